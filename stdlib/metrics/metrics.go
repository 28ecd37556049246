// Package metrics is imscript.metrics: counters, gauges and histograms a
// script declares, served with the host's own at /metrics (`imscript run
// --metrics ADDR`). Every worker sees the same metric under a name, and a
// reload keeps its value.
package metrics

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/imscript/imscript/script"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Module is imscript.metrics: counter, gauge and histogram.
func Module(inst script.Instance) script.Value {
	r := shared(inst)
	return script.Map{
		"counter":   script.Function(func(c script.Call) { r.declare(c, kindCounter) }),
		"gauge":     script.Function(func(c script.Call) { r.declare(c, kindGauge) }),
		"histogram": script.Function(func(c script.Call) { r.declare(c, kindHistogram) }),
	}
}

// Sharer is where a host keeps state shared by its workers.
type Sharer interface {
	Shared(key string, init func() any) any
}

const sharedKey = "imscript/stdlib/metrics"

// Registry is a host's script metrics. It is a prometheus.Gatherer: the
// host's /metrics gathers every shared value that is one.
type Registry struct {
	mu     sync.Mutex
	reg    *prometheus.Registry
	byName map[string]*script.Object
}

// Gather implements prometheus.Gatherer.
func (r *Registry) Gather() ([]*dto.MetricFamily, error) { return r.reg.Gather() }

func shared(h Sharer) *Registry {
	return h.Shared(sharedKey, func() any {
		return &Registry{reg: prometheus.NewRegistry(), byName: map[string]*script.Object{}}
	}).(*Registry)
}

// Of returns the script metrics of the host h (for tests and embedders).
func Of(h Sharer) *Registry { return shared(h) }

type kind int

const (
	kindCounter kind = iota
	kindGauge
	kindHistogram
)

func (k kind) String() string { return [...]string{"counter", "gauge", "histogram"}[k] }

// metric is one declared metric: a plain one (no labels) or a vector.
type metric struct {
	name   string
	kind   kind
	labels []string
	plain  prometheus.Metric // Counter, Gauge or Histogram when no labels
	vec    any               // *prometheus.CounterVec, GaugeVec, HistogramVec

	mu     sync.Mutex
	series map[string]struct{} // the label value sets seen (vectors)
	warned bool
}

// MaxSeries bounds the label value sets of one metric: past it, an update
// with new values is refused (false) and logged once, so label values taken
// from user input cannot grow the process without end.
const MaxSeries = 10000

// admit says whether the label values lv may be used (seen before, or
// room for one more set).
func (m *metric) admit(c script.Call, lv []string) bool {
	key := strings.Join(lv, "\xff")
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.series[key]; ok {
		return true
	}
	if len(m.series) >= MaxSeries {
		if !m.warned {
			m.warned = true
			c.Instance().Logger().Warn("imscript.metrics: a metric has the most label value sets it may have; updates with new ones are refused",
				"metric", m.name, "max", MaxSeries)
		}
		return false
	}
	if m.series == nil {
		m.series = map[string]struct{}{}
	}
	m.series[key] = struct{}{}
	return true
}

var nameRE = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
var labelRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// reserved are prefixes of the host's own metrics.
var reserved = []string{"imscript_", "go_", "process_", "promhttp_"}

// MaxLabels bounds the labels of one metric.
const MaxLabels = 8

// declare is imscript.metrics.counter / gauge / histogram(name, help [,
// labels [, buckets]]). Declaring a name again returns the same metric
// when kind and labels agree.
func (r *Registry) declare(c script.Call, k kind) {
	what := "imscript.metrics." + k.String()
	name := c.Str(0, "name")
	help := c.Str(1, "help")
	if !nameRE.MatchString(name) {
		script.Usagef("%s: name %q is not a Prometheus metric name (letters, digits, _ and :, not starting with a digit)", what, name)
	}
	for _, p := range reserved {
		if strings.HasPrefix(name, p) {
			script.Usagef("%s: name %q: the prefix %s is the host's own; choose another (say, myapp_...)", what, name, p)
		}
	}
	if help == "" {
		script.Usagef("%s: help (a sentence saying what %s counts) is empty", what, name)
	}
	labels := stringList(c.Arg(2), what, "labels")
	if len(labels) > MaxLabels {
		script.Usagef("%s: %d labels; at most %d", what, len(labels), MaxLabels)
	}
	for i, l := range labels {
		if !labelRE.MatchString(l) || strings.HasPrefix(l, "__") {
			script.Usagef("%s: label %q is not a Prometheus label name", what, l)
		}
		if slices.Contains(labels[:i], l) {
			script.Usagef("%s: label %q given twice", what, l)
		}
	}
	var buckets []float64
	if k == kindHistogram {
		buckets = bucketList(c.Arg(3), what)
	} else if c.NArgs() > 3 {
		script.Usagef("%s: takes (name, help [, labels])", what)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if o := r.byName[name]; o != nil {
		m := o.Data.(*metric)
		if m.kind != k || !slices.Equal(m.labels, labels) {
			script.Usagef("%s: %q is already a %s with labels [%s]", what, name, m.kind, strings.Join(m.labels, ", "))
		}
		c.Return(o)
		return
	}
	m := &metric{name: name, kind: k, labels: labels}
	var col prometheus.Collector
	switch k {
	case kindCounter:
		o := prometheus.CounterOpts{Name: name, Help: help}
		if len(labels) == 0 {
			x := prometheus.NewCounter(o)
			m.plain, col = x, x
		} else {
			x := prometheus.NewCounterVec(o, labels)
			m.vec, col = x, x
		}
	case kindGauge:
		o := prometheus.GaugeOpts{Name: name, Help: help}
		if len(labels) == 0 {
			x := prometheus.NewGauge(o)
			m.plain, col = x, x
		} else {
			x := prometheus.NewGaugeVec(o, labels)
			m.vec, col = x, x
		}
	case kindHistogram:
		o := prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}
		if len(labels) == 0 {
			x := prometheus.NewHistogram(o)
			m.plain, col = x, x
		} else {
			x := prometheus.NewHistogramVec(o, labels)
			m.vec, col = x, x
		}
	}
	if err := r.reg.Register(col); err != nil {
		script.Usagef("%s: %q: %v", what, name, err)
	}
	obj := &script.Object{Type: types[k], Data: m}
	r.byName[name] = obj
	c.Return(obj)
}

// stringList reads an optional list of strings (labels).
func stringList(v script.Value, what, arg string) []string {
	switch l := v.(type) {
	case nil:
		return nil
	case script.List:
		out := make([]string, len(l))
		for i, x := range l {
			s, ok := x.(string)
			if !ok {
				script.Usagef("%s: %s[%d] must be a string, got %s", what, arg, i+1, script.TypeName(x))
			}
			out[i] = s
		}
		return out
	case script.Map:
		if len(l) == 0 {
			return nil
		}
	}
	script.Usagef("%s: %s must be a list of strings, got %s", what, arg, script.TypeName(v))
	return nil
}

// bucketList reads a histogram's optional upper bounds (seconds, bytes,
// whatever it measures), increasing.
func bucketList(v script.Value, what string) []float64 {
	if v == nil {
		return prometheus.DefBuckets
	}
	l, ok := v.(script.List)
	if !ok || len(l) == 0 {
		script.Usagef("%s: buckets must be a non-empty list of increasing numbers, got %s", what, script.TypeName(v))
	}
	out := make([]float64, len(l))
	for i, x := range l {
		f, ok := number(x)
		if !ok || math.IsNaN(f) || (i > 0 && f <= out[i-1]) {
			script.Usagef("%s: buckets must be increasing numbers; buckets[%d] is %v", what, i+1, x)
		}
		out[i] = f
	}
	return out
}

func number(v script.Value) (float64, bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

var types = [...]*script.Type{
	kindCounter:   {Name: "metrics.counter", Doc: "A Prometheus counter: it only goes up.", Props: props, Fields: fields},
	kindGauge:     {Name: "metrics.gauge", Doc: "A Prometheus gauge: a value that goes up and down.", Props: props, Fields: fields},
	kindHistogram: {Name: "metrics.histogram", Doc: "A Prometheus histogram: observations counted in buckets.", Props: props, Fields: fields},
}

// labelValues are a method's optional last argument: the label values,
// in the labels' order or by name.
const labelArg = "labels?: string[]|{[string]: string}"

func init() {
	method := func(name string, k kind, args, doc string) script.Method {
		return script.Method{Fn: func(c script.Call) { update(c, name, k) }, Args: args, Returns: "boolean, string?", Doc: doc}
	}
	types[kindCounter].Define(map[string]script.Method{
		"inc": method("inc", kindCounter, "n?: number, "+labelArg, "Adds n (default 1, never negative); false when the metric has too many label value sets."),
	})
	types[kindGauge].Define(map[string]script.Method{
		"set": method("set", kindGauge, "value: number, "+labelArg, "Sets the value."),
		"add": method("add", kindGauge, "n: number, "+labelArg, "Adds n (negative to subtract)."),
		"inc": method("inc", kindGauge, "n?: number, "+labelArg, "Adds n (default 1)."),
		"dec": method("dec", kindGauge, "n?: number, "+labelArg, "Subtracts n (default 1)."),
	})
	types[kindHistogram].Define(map[string]script.Method{
		"observe": method("observe", kindHistogram, "value: number, "+labelArg, "Counts an observation (seconds, bytes: base units) in its bucket."),
	})
}

// API describes imscript.metrics for editors.
var API = &script.API{
	Doc: "Script metrics, served with the host's on /metrics (imscript run --metrics ADDR); shared by every worker, kept across reloads.",
	Funcs: map[string]script.Method{
		"counter":   {Args: "name: string, help: string, labels?: string[]", Returns: "MetricsCounter", Doc: "Declares a counter (a name ending in _total); the same name again returns it."},
		"gauge":     {Args: "name: string, help: string, labels?: string[]", Returns: "MetricsGauge", Doc: "Declares a gauge; the same name again returns it."},
		"histogram": {Args: "name: string, help: string, labels?: string[], buckets?: number[]", Returns: "MetricsHistogram", Doc: "Declares a histogram with its bucket bounds (default: Prometheus' own); the same name again returns it."},
	},
	Types: types[:],
}

var fields = map[string]script.Field{"name": {Type: "string", Doc: "The metric's name."}}

var props = map[string]func(o *script.Object) script.Value{
	"name": func(o *script.Object) script.Value { return o.Data.(*metric).name },
}

// update runs a method: (value [, labelvalues]); inc and dec take an
// optional value (default 1), or the label values alone. It returns true,
// or false when new label values would pass MaxSeries.
func update(c script.Call, method string, k kind) {
	m := script.Receiver[*metric](c, "metric method called without its metric (use m:"+method+"(...) in Lua)")
	what := m.name + ":" + method
	v, lvArg := 1.0, 1
	switch a := c.Arg(0).(type) {
	case nil:
		if method != "inc" && method != "dec" {
			script.Usagef("%s: the value (a number) is missing", what)
		}
	case script.List, script.Map:
		if method != "inc" && method != "dec" {
			script.Usagef("%s: the value must be a number, got %s", what, script.TypeName(a))
		}
		lvArg = 0
	default:
		f, ok := number(a)
		if !ok || math.IsNaN(f) {
			script.Usagef("%s: the value must be a number, got %s", what, script.TypeName(a))
		}
		v = f
	}
	if k == kindCounter && v < 0 {
		script.Usagef("%s: a counter only goes up; got %v (use a gauge)", what, v)
	}
	var lv []string
	if len(m.labels) > 0 {
		lv = labelValues(c.Arg(lvArg), m, what)
		if !m.admit(c, lv) {
			c.Fail(fmt.Sprintf("%s: %s has %d label value sets already, the most it may have", what, m.name, MaxSeries))
			return
		}
	} else if c.Arg(lvArg) != nil {
		script.Usagef("%s: %s has no labels", what, m.name)
	}
	switch k {
	case kindCounter:
		x, _ := m.plain.(prometheus.Counter)
		if x == nil {
			x = m.vec.(*prometheus.CounterVec).WithLabelValues(lv...)
		}
		x.Add(v)
	case kindGauge:
		x, _ := m.plain.(prometheus.Gauge)
		if x == nil {
			x = m.vec.(*prometheus.GaugeVec).WithLabelValues(lv...)
		}
		switch method {
		case "set":
			x.Set(v)
		case "add", "inc":
			x.Add(v)
		case "dec":
			x.Sub(v)
		}
	case kindHistogram:
		var x prometheus.Observer
		if h, ok := m.plain.(prometheus.Histogram); ok {
			x = h
		} else {
			x = m.vec.(*prometheus.HistogramVec).WithLabelValues(lv...)
		}
		x.Observe(v)
	}
	c.ReturnBool(true)
}

// labelValues reads the label values: a list in the labels' order, or a
// table / object by label name.
func labelValues(v script.Value, m *metric, what string) []string {
	str := func(x script.Value, i int) string {
		switch s := x.(type) {
		case string:
			return s
		case int64:
			return strconv.FormatInt(s, 10)
		case float64:
			return strconv.FormatFloat(s, 'g', -1, 64)
		case bool:
			return strconv.FormatBool(s)
		case nil:
			script.Usagef("%s: no value for label %s", what, m.labels[i])
		}
		script.Usagef("%s: the value of label %s must be a string or a number, got %s", what, m.labels[i], script.TypeName(x))
		return ""
	}
	out := make([]string, len(m.labels))
	switch l := v.(type) {
	case script.List:
		if len(l) != len(m.labels) {
			script.Usagef("%s: %d label values for %d labels [%s]", what, len(l), len(m.labels), strings.Join(m.labels, ", "))
		}
		for i, x := range l {
			out[i] = str(x, i)
		}
	case script.Map:
		for k := range l {
			if !slices.Contains(m.labels, k) {
				script.Usagef("%s: %s has no label %q (labels: %s)", what, m.name, k, strings.Join(m.labels, ", "))
			}
		}
		for i, name := range m.labels {
			out[i] = str(l[name], i)
		}
	default:
		script.Usagef("%s: label values for [%s] are missing (a list, or a table by label name)", what, strings.Join(m.labels, ", "))
	}
	return out
}
