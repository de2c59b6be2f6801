package api

// POST /endpoints/rotate: a new signing secret for a receiver URL.

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/ipnd/ipnd/ledger"
)

type rotatedJSON struct {
	Status             string `json:"status"`
	URL                string `json:"url"`
	Secret             string `json:"secret"`
	PreviousValidUntil string `json:"previous_valid_until"`
	Subscriptions      int    `json:"subscriptions"`
}

// rotateEndpoint gives the endpoint of url (every subscription to it) a
// new signing secret. For [ipn] secret_grace every IPN to it is signed
// with the new and the previous secret (t=…,v1=NEW,v1=OLD), so the
// receiver can switch to the new one at its own pace.
func (s *Server) rotateEndpoint(w http.ResponseWriter, r *http.Request) error {
	p, err := readParams(w, r)
	if err != nil {
		return err
	}
	url, ok, err := p.str("url", maxURLLen)
	if err != nil {
		return err
	}
	if !ok {
		return badField("url", "required: the receiver URL exactly as subscribed")
	}
	secret, err := s.o.NewSecret()
	if err != nil {
		return err
	}
	e, err := s.o.Ledger.RotateEndpointSecret(r.Context(), url, secret, s.o.IPN.SecretGrace.D())
	if errors.Is(err, ledger.ErrNotFound) {
		return &Error{Status: http.StatusNotFound, Field: "url", Message: fmt.Sprintf(
			"no subscription ever used this URL; give it exactly as subscribed (%d bytes given)", len(url))}
	}
	if err != nil {
		return err
	}
	s.log.Info("endpoint secret rotated", "endpoint", e.ID, "subscriptions", e.Subscriptions, "previous_valid_until", e.PreviousUntil)
	s.writeJSON(w, http.StatusOK, rotatedJSON{Status: "success", URL: e.URL, Secret: e.Secret,
		PreviousValidUntil: stamp(e.PreviousUntil), Subscriptions: e.Subscriptions})
	return nil
}
