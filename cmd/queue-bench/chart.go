package main

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// writeCharts renders one throughput-vs-connections chart per scenario and
// message size, and one latency CDF per message size, as PNG files in dir.
// It returns the files written.
func (rp *report) writeCharts(dir string) ([]string, error) {
	cells := rp.cells()
	scenarios, sizes, conns, systems := rp.axes()
	var files []string
	for _, sc := range scenarios {
		for _, size := range sizes[sc] {
			var name string
			var err error
			if sc == scLatency {
				name = filepath.Join(dir, fmt.Sprintf("latency_cdf_%d.png", size))
				err = rp.latencyChart(name, cells, systems, size)
			} else {
				name = filepath.Join(dir, fmt.Sprintf("throughput_%s_%d.png", sc, size))
				err = rp.throughputChart(name, cells, sc, conns[sc], systems, size)
			}
			if err != nil {
				return files, fmt.Errorf("%s: %w", name, err)
			}
			if _, statErr := os.Stat(name); statErr == nil {
				files = append(files, name)
			}
		}
	}
	return files, nil
}

func (rp *report) throughputChart(file string, cells map[cellKey]*cell, sc string, conns []int, systems []string, size int) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s, %s messages", sc, sizeName(size))
	p.X.Label.Text = "connections"
	p.Y.Label.Text = "messages/s"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = connTicks(conns)
	p.Legend.Top = true
	var lines []any
	for _, sys := range systems {
		var pts plotter.XYs
		for _, c := range conns {
			if cl := cells[cellKey{sc, sys, c, size}]; cl != nil && !cl.Failed && cl.Rate > 0 {
				pts = append(pts, plotter.XY{X: float64(c), Y: cl.Rate})
			}
		}
		if len(pts) > 0 {
			lines = append(lines, sys, pts)
		}
	}
	if len(lines) == 0 {
		return nil
	}
	if err := plotutil.AddLinePoints(p, lines...); err != nil {
		return err
	}
	// Pad the connection axis so a single measured count still spans a
	// range on the log scale.
	p.X.Min, p.X.Max = float64(slices.Min(conns))/1.5, float64(slices.Max(conns))*1.5
	p.Y.Min = 0
	return p.Save(18*vg.Centimeter, 12*vg.Centimeter, file)
}

func (rp *report) latencyChart(file string, cells map[cellKey]*cell, systems []string, size int) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("delivery latency CDF, idle consumers, %s messages", sizeName(size))
	p.X.Label.Text = "latency (ms, log scale)"
	p.Y.Label.Text = "fraction delivered"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Legend.Top = true
	p.Legend.Left = true
	var lines []any
	for _, sys := range systems {
		for k, c := range cells {
			if k.Scenario != scLatency || k.System != sys || k.Size != size || len(c.Latency) == 0 {
				continue
			}
			pts := make(plotter.XYs, len(c.Latency))
			for i, d := range c.Latency {
				pts[i] = plotter.XY{X: math.Max(ms(d), 0.001), Y: float64(i+1) / float64(len(c.Latency))}
			}
			lines = append(lines, sys, pts)
		}
	}
	if len(lines) == 0 {
		return nil
	}
	if err := plotutil.AddLines(p, lines...); err != nil {
		return err
	}
	p.Y.Min, p.Y.Max = 0, 1
	return p.Save(18*vg.Centimeter, 12*vg.Centimeter, file)
}

// connTicks labels exactly the measured connection counts.
type connTicks []int

func (t connTicks) Ticks(min, max float64) []plot.Tick {
	var ts []plot.Tick
	for _, c := range slices.Sorted(slices.Values(t)) {
		ts = append(ts, plot.Tick{Value: float64(c), Label: fmt.Sprint(c)})
	}
	return ts
}
