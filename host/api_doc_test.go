package host_test

import (
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/imscript/imscript/host"
	"github.com/imscript/imscript/script"
	"github.com/imscript/imscript/stdlib"
)

// TestAPIDescribesEveryMember: every member a script finds in imscript
// and in each standard module is in the API description that `imscript
// types` generates from (host.API, each module's API), and every
// described member is there, in Lua and in JavaScript.
func TestAPIDescribesEveryMember(t *testing.T) {
	// want: what the description says, "name" and "module.name"; may:
	// optional members (a spawned script's process.parent).
	var want, may []string
	add := func(prefix string, a *script.API) {
		for name := range a.Funcs {
			want = append(want, prefix+name)
		}
		for name := range a.Fields {
			if n, ok := strings.CutSuffix(name, "?"); ok {
				may = append(may, prefix+n)
			} else {
				want = append(want, prefix+name)
			}
		}
	}
	add("", host.API())
	for _, m := range stdlib.Modules() {
		if m.API == nil {
			t.Errorf("module %s has no API description", m.Name)
			continue
		}
		want = append(want, m.Name)
		add(m.Name+".", m.API)
	}
	sort.Strings(want)

	for _, lang := range []struct{ name, src string }{
		{"members.lua", `
local out = {}
for k, v in pairs(imscript) do
  out[#out + 1] = k
  if type(v) == "table" and k ~= "env" and k ~= "args" then
    for k2 in pairs(v) do out[#out + 1] = k .. "." .. k2 end
  end
end
table.sort(out)
print("MEMBERS " .. table.concat(out, " ") .. " END")
imscript.server{ port = 0 }
`},
		{"members.js", `
const out = [];
for (const k of Object.keys(imscript)) {
  out.push(k);
  const v = imscript[k];
  if (typeof v === "object" && v !== null && !Array.isArray(v) && k !== "env") {
    for (const k2 of Object.keys(v)) out.push(k + "." + k2);
  }
}
out.sort();
console.log("MEMBERS " + out.join(" ") + " END");
imscript.server({ port: 0 });
`},
	} {
		t.Run(lang.name, func(t *testing.T) {
			r := startHost(t, lang.name, lang.src, host.Config{})
			r.waitStdout(" END")
			s := r.stdout.String()
			s = s[strings.Index(s, "MEMBERS ")+len("MEMBERS "):]
			got := strings.Fields(s[:strings.Index(s, " END")])
			for _, g := range got {
				if !slices.Contains(want, g) && !slices.Contains(may, g) {
					t.Errorf("%s is not in the API description (host.API or the module's API)", g)
				}
			}
			for _, w := range want {
				if !slices.Contains(got, w) {
					t.Errorf("%s is described but scripts do not have it", w)
				}
			}
		})
	}
}
