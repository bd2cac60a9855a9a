package bench

import (
	"bytes"
	"fmt"
	"html"
	"math"
	"time"
)

// plotFlood draws, for each client's first run, its send rate (answers per
// 1 s bin) over time against the account limit and the ideal rate (the
// messages over tgsim's ideal finishing time), with every flood wait the
// server announced as a mark under the axis (red: a chat's limit, black:
// the account's). A small hand-written SVG: one panel per client.
func plotFlood(rep floodReport) []byte {
	const (
		width, panelH, left, right, top, gap = 900, 150, 60, 20, 40, 36
	)
	runs := rep.First
	var maxT, maxRate float64
	limit := float64(publishedAccountN)
	bins := make([][]float64, len(runs))
	for i, r := range runs {
		maxT = math.Max(maxT, r.Total.Seconds())
		n := int(math.Ceil(r.Total.Seconds())) + 1
		bins[i] = make([]float64, n)
		for _, d := range r.Done {
			bins[i][int(d.Seconds())]++
		}
		for _, v := range bins[i] {
			maxRate = math.Max(maxRate, v)
		}
	}
	maxT = math.Max(1, math.Ceil(maxT))
	maxRate = math.Max(maxRate, limit) * 1.1
	plotW := float64(width - left - right)
	height := top + len(runs)*(panelH+gap) + 20
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="11">`+"\n", width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%d" y="18" font-size="13">Send rate per second (answers in 1 s bins), %d messages; dashed: account limit %.0f/s; dotted: the ideal schedule's mean rate; marks: flood waits (red chat, black account)</text>`+"\n",
		left, rep.Flags.n, limit)
	x := func(sec float64) float64 { return left + sec/maxT*plotW }
	for i, r := range runs {
		y0 := float64(top + i*(panelH+gap))
		y := func(v float64) float64 { return y0 + panelH - v/maxRate*panelH }
		fmt.Fprintf(&b, `<text x="%d" y="%.0f" font-size="12">%s: %.1f s, goodput %.0f%%, %d flood waits</text>`+"\n",
			left, y0-4, html.EscapeString(r.Client), r.Total.Seconds(), r.goodput(), len(r.Events))
		fmt.Fprintf(&b, `<rect x="%d" y="%.0f" width="%.0f" height="%d" fill="none" stroke="#bbb"/>`+"\n", left, y0, plotW, panelH)
		for _, v := range []float64{0, limit} {
			fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%.0f</text>`+"\n", left-4, y(v)+4, v)
		}
		fmt.Fprintf(&b, `<line x1="%d" x2="%.0f" y1="%.1f" y2="%.1f" stroke="#888" stroke-dasharray="6,4"/>`+"\n", left, left+plotW, y(limit), y(limit))
		if r.Ideal > 0 {
			ideal := float64(r.Sent) / r.Ideal.Seconds()
			fmt.Fprintf(&b, `<line x1="%d" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#2a2" stroke-dasharray="2,3"/>`+"\n", left, x(r.Ideal.Seconds()), y(ideal), y(ideal))
		}
		var pts bytes.Buffer
		for s, v := range bins[i] {
			fmt.Fprintf(&pts, "%.1f,%.1f %.1f,%.1f ", x(float64(s)), y(v), x(float64(s+1)), y(v))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="#1f5fbf" stroke-width="1.5" points="%s"/>`+"\n", pts.String())
		drawn := map[[2]int]bool{} // one mark per pixel and color: reactive runs get thousands
		for _, e := range r.Events {
			color := "#d22"
			if e.Peer == 0 {
				color = "black"
			}
			ex := x(e.At.Sub(r.Start).Seconds())
			px := [2]int{int(ex), len(color)}
			if drawn[px] {
				continue
			}
			drawn[px] = true
			fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="%s"/>`+"\n", ex, ex, y0+panelH+2, y0+panelH+10, color)
		}
	}
	yAxis := float64(top + len(runs)*(panelH+gap) - gap + 24)
	for s := 0.0; s <= maxT; s += tick(maxT) {
		fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" text-anchor="middle">%.0f s</text>`+"\n", x(s), yAxis, s)
	}
	b.WriteString("</svg>\n")
	return b.Bytes()
}

// tick is the spacing of the time axis's labels.
func tick(maxT float64) float64 {
	for _, t := range []float64{1, 2, 5, 10, 20, 30, 60, 120, 300} {
		if maxT/t <= 12 {
			return t
		}
	}
	return (time.Duration(maxT/10) * time.Second).Seconds()
}
