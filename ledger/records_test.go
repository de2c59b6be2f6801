package ledger

import "testing"

func TestParseNotificationState(t *testing.T) {
	for in, want := range map[string]string{"pending": NotePending, " Delivered ": NoteDelivered, "SUPERSEDED": NoteSuperseded,
		"failed": NoteFailed, "failing": "", "": "", "late": ""} {
		got, ok := ParseNotificationState(in)
		if got != want || ok != (want != "") {
			t.Errorf("ParseNotificationState(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}
