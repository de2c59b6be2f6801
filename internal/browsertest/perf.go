package browsertest

import (
	"fmt"
	"time"
)

// Weight is what the page of the last Navigate cost on the network.
type Weight struct {
	Requests int   // requests made since the last Navigate, the document included
	Bytes    int64 // bytes over the wire for them (headers and encoded bodies)
}

func (w Weight) String() string { return fmt.Sprintf("%d requests, %d bytes", w.Requests, w.Bytes) }

// Weight sums the network traffic of the page since the last Navigate, from
// the browser's network events: finished requests count what
// Network.loadingFinished reports, streams still open (an EventSource)
// what arrived so far.
func (p *Page) Weight() Weight {
	p.rec.mu.Lock()
	from := p.navStart
	p.rec.mu.Unlock()
	var w Weight
	for _, r := range p.rec.snapshot(from) {
		w.Requests++
		w.Bytes += r.Bytes
	}
	return w
}

// Timing is the browser's own account of the current document's load,
// from the Performance API (navigation and paint timing), relative to the
// start of the navigation.
type Timing struct {
	TTFB                 time.Duration // first byte of the document's response
	FirstPaint           time.Duration // first-paint
	FirstContentfulPaint time.Duration // first-contentful-paint: first text or image rendered
	DOMContentLoaded     time.Duration // DOMContentLoaded handlers done
	Load                 time.Duration // load event done
	DocumentBytes        int64         // transferSize of the document (headers and body)
}

func (t Timing) String() string {
	return fmt.Sprintf("ttfb %v, first paint %v, first contentful paint %v, DOMContentLoaded %v, load %v",
		t.TTFB, t.FirstPaint, t.FirstContentfulPaint, t.DOMContentLoaded, t.Load)
}

// timingJS waits (through a buffered PerformanceObserver, no polling) for
// the first-contentful-paint entry and the end of the load event, then
// reads the navigation and paint entries, in milliseconds.
const timingJS = `new Promise((resolve) => {
	const read = () => {
		const nav = performance.getEntriesByType('navigation')[0] || {};
		const paint = {};
		for (const e of performance.getEntriesByType('paint')) paint[e.name] = e.startTime;
		return {ttfb: nav.responseStart || 0, fp: paint['first-paint'] || 0, fcp: paint['first-contentful-paint'] || 0,
			dcl: nav.domContentLoadedEventEnd || 0, load: nav.loadEventEnd || 0, bytes: nav.transferSize || 0};
	};
	const ready = () => { const r = read(); return r.fcp > 0 && r.load > 0; };
	if (ready()) { resolve(read()); return; }
	const timer = setTimeout(() => resolve(read()), %d);
	const check = () => { if (ready()) { clearTimeout(timer); obs.disconnect(); resolve(read()); } };
	const obs = new PerformanceObserver(check);
	obs.observe({type: 'paint', buffered: true});
	addEventListener('load', () => setTimeout(check, 0));
})`

type timingMS struct {
	TTFB  float64 `json:"ttfb"`
	FP    float64 `json:"fp"`
	FCP   float64 `json:"fcp"`
	DCL   float64 `json:"dcl"`
	Load  float64 `json:"load"`
	Bytes int64   `json:"bytes"`
}

// Timing reads the current document's load and paint timing, waiting (up
// to the page's timeout) until the first contentful paint happened and the
// load event ended. A page that never paints content gives zero paints.
func (p *Page) Timing() Timing {
	p.t.Helper()
	ms, ok := Eval[timingMS](p, fmt.Sprintf(timingJS, p.timeout().Milliseconds()))
	if !ok {
		p.t.Fatalf("browsertest: reading the Performance API failed")
	}
	d := func(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }
	return Timing{TTFB: d(ms.TTFB), FirstPaint: d(ms.FP), FirstContentfulPaint: d(ms.FCP),
		DOMContentLoaded: d(ms.DCL), Load: d(ms.Load), DocumentBytes: ms.Bytes}
}
