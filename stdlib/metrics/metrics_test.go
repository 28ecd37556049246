package metrics_test

import (
	"strings"
	"testing"

	"github.com/imscript/imscript/script/scripttest"
	"github.com/imscript/imscript/stdlib/metrics"
	dto "github.com/prometheus/client_model/go"
)

// The same program in both languages: it declares metrics, updates them on
// both workers' load, and prints the error of each misuse.
var scripts = map[string]string{
	"lua": `
local c = imscript.metrics.counter("app_events_total", "Events.", {"kind", "code"})
local plain = imscript.metrics.counter("app_plain_total", "Plain.")
local g = imscript.metrics.gauge("app_level", "Level.")
local h = imscript.metrics.histogram("app_size_bytes", "Sizes.", nil, {10, 100})
c:inc(1, {"a", 200})
c:inc(2, {kind = "b", code = "500"})
plain:inc()
plain:inc(4)
g:add(10); g:add(-3); g:inc(); g:dec(2)
imscript.metrics.gauge("app_set", "Set.", {"k"}):set(7, {"x"})
h:observe(5); h:observe(50); h:observe(500)
print("same " .. tostring(imscript.metrics.counter("app_plain_total", "Again.") == plain) .. " " .. plain.name)
local function try(f) local ok, err = pcall(f); print(ok and "no error" or tostring(err)) end
try(function() imscript.metrics.counter("9bad", "x") end)
try(function() imscript.metrics.counter("imscript_mine", "x") end)
try(function() imscript.metrics.counter("app_nohelp", "") end)
try(function() imscript.metrics.gauge("app_plain_total", "x") end)
try(function() c:inc(1, {"a"}) end)
try(function() c:inc(-1, {"a", "b"}) end)
try(function() plain:inc(1, {"x"}) end)
try(function() g:set("high") end)
try(function() imscript.metrics.histogram("app_h2", "x", nil, {5, 1}) end)
try(function() c:inc(1, {kind = "a", nope = "b"}) end)
local many = imscript.metrics.counter("app_many_total", "Many.", {"id"})
local ok = true
for i = 1, 10000 do ok = ok and many:inc({i}) end
local refused, why = many:inc({"one more"})
print("cap " .. tostring(ok) .. " " .. tostring(refused) .. " " .. tostring(why) .. " " .. tostring(many:inc({1})))
`,
	"js": `
const c = imscript.metrics.counter("app_events_total", "Events.", ["kind", "code"]);
const plain = imscript.metrics.counter("app_plain_total", "Plain.");
const g = imscript.metrics.gauge("app_level", "Level.");
const h = imscript.metrics.histogram("app_size_bytes", "Sizes.", null, [10, 100]);
c.inc(1, ["a", 200]);
c.inc(2, { kind: "b", code: "500" });
plain.inc();
plain.inc(4);
g.add(10); g.add(-3); g.inc(); g.dec(2);
imscript.metrics.gauge("app_set", "Set.", ["k"]).set(7, ["x"]);
h.observe(5); h.observe(50); h.observe(500);
console.log("same " + String(imscript.metrics.counter("app_plain_total", "Again.") === plain) + " " + plain.name);
const tryIt = (f) => { try { f(); console.log("no error"); } catch (e) { console.log(String(e.message || e)); } };
tryIt(() => imscript.metrics.counter("9bad", "x"));
tryIt(() => imscript.metrics.counter("imscript_mine", "x"));
tryIt(() => imscript.metrics.counter("app_nohelp", ""));
tryIt(() => imscript.metrics.gauge("app_plain_total", "x"));
tryIt(() => c.inc(1, ["a"]));
tryIt(() => c.inc(-1, ["a", "b"]));
tryIt(() => plain.inc(1, ["x"]));
tryIt(() => g.set("high"));
tryIt(() => imscript.metrics.histogram("app_h2", "x", null, [5, 1]));
tryIt(() => c.inc(1, { kind: "a", nope: "b" }));
const many = imscript.metrics.counter("app_many_total", "Many.", ["id"]);
let ok = true;
for (let i = 1; i <= 10000; i++) ok = ok && many.inc([i]);
console.log("cap " + ok + " " + many.inc(["one more"]) + " " + many.inc([1]));
`,
}

func TestMetricsModule(t *testing.T) {
	for _, lang := range []string{"lua", "js"} {
		t.Run(lang, func(t *testing.T) {
			r := scripttest.Start(t, scripttest.Options{Lang: lang, Src: scripts[lang], Workers: 2})
			out := r.Stdout()
			// Both workers loaded the script: every update happened twice,
			// on the same metrics.
			if n := strings.Count(out, "same true app_plain_total"); n != 2 {
				t.Errorf("redeclaring returned the same metric on %d workers, want 2:\n%s", n, out)
			}
			for _, want := range []string{
				`"9bad" is not a Prometheus metric name`,
				`the prefix imscript_ is the host's own`,
				`help (a sentence saying what app_nohelp counts) is empty`,
				`"app_plain_total" is already a counter with labels []`,
				`1 label values for 2 labels [kind, code]`,
				`a counter only goes up`,
				`app_plain_total has no labels`,
				`the value must be a number, got string`,
				`buckets must be increasing numbers`,
				`has no label "nope"`,
			} {
				if !strings.Contains(out, want) {
					t.Errorf("no %q in the output:\n%s", want, out)
				}
			}
			capLine := "cap true false true"
			if lang == "lua" {
				capLine = "cap true false app_many_total:inc: app_many_total has 10000 label value sets already, the most it may have true"
			}
			if n := strings.Count(out, capLine+"\n"); n != 2 {
				t.Errorf("%q %d times, want 2 (a metric's label value sets are bounded):\n%s", capLine, n, out)
			}
			if strings.Contains(out, "no error") {
				t.Errorf("a misuse raised no error:\n%s", out)
			}
			fams, err := metrics.Of(r.H).Gather()
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]*dto.MetricFamily{}
			for _, f := range fams {
				got[f.GetName()] = f
			}
			val := func(name string, labels ...string) float64 {
				f := got[name]
				if f == nil {
					t.Fatalf("no %s", name)
				}
			next:
				for _, m := range f.Metric {
					for i, l := range m.Label {
						if 2*i+1 >= len(labels) || l.GetName() != labels[2*i] || l.GetValue() != labels[2*i+1] {
							continue next
						}
					}
					switch {
					case m.Counter != nil:
						return m.Counter.GetValue()
					case m.Gauge != nil:
						return m.Gauge.GetValue()
					case m.Histogram != nil:
						return float64(m.Histogram.GetSampleCount())
					}
				}
				t.Fatalf("no %s%v", name, labels)
				return 0
			}
			for _, c := range []struct {
				name   string
				labels []string
				want   float64
			}{
				{"app_events_total", []string{"code", "200", "kind", "a"}, 2},
				{"app_events_total", []string{"code", "500", "kind", "b"}, 4},
				{"app_plain_total", nil, 10},
				{"app_level", nil, 12},
				{"app_set", []string{"k", "x"}, 7},
				{"app_size_bytes", nil, 6},
			} {
				if v := val(c.name, c.labels...); v != c.want {
					t.Errorf("%s%v = %v, want %v", c.name, c.labels, v, c.want)
				}
			}
			bs := got["app_size_bytes"].Metric[0].Histogram.Bucket
			if len(bs) != 2 || bs[0].GetCumulativeCount() != 2 || bs[1].GetCumulativeCount() != 4 {
				t.Errorf("app_size_bytes buckets %v, want le=10: 2, le=100: 4", bs)
			}
		})
	}
}
