package host

import (
	"slices"
	"sort"
	"strings"
	"testing"
)

// TestAPIRecords: the settings records that editors get name every
// setting imscript.server and imscript.client accept, and nothing else.
func TestAPIRecords(t *testing.T) {
	names := func(m map[string]bool) []string {
		var out []string
		for k := range m {
			out = append(out, k)
		}
		sort.Strings(out)
		return out
	}
	for _, c := range []struct {
		record string
		accept []string
	}{
		{"ServerSettings", names(settingNames)},
		{"ClientSettings", names(clientSettingNames)},
	} {
		var fields []string
		for _, r := range apiRecords {
			if r.Name == c.record {
				for k := range r.Fields {
					fields = append(fields, strings.TrimSuffix(k, "?"))
				}
			}
		}
		sort.Strings(fields)
		if !slices.Equal(fields, c.accept) {
			t.Errorf("%s has %v\nthe declaration accepts %v", c.record, fields, c.accept)
		}
	}
}
