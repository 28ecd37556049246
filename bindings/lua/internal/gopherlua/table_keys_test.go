package lua

import (
	"math/rand"
	"strconv"
	"testing"
)

// TestTableKeyOrder checks the hash part against upstream's model: Next
// yields the keys in the order they were first set, a key set to nil and
// set again keeps its first place, for tables below and past smallKeys,
// string keys and others, set through every path (RawSetString,
// RawSetH, RawSet, the VM's constant keys).
func TestTableKeyOrder(t *testing.T) {
	rnd := rand.New(rand.NewSource(1))
	for round := 0; round < 300; round++ {
		tb := newLTable(0, rnd.Intn(2*smallKeys))
		var order []LValue
		seen := map[LValue]bool{}
		vals := map[LValue]LValue{}
		nkeys := 1 + rnd.Intn(3*smallKeys)
		for op := 0; op < 100; op++ {
			var k LValue
			switch i := rnd.Intn(nkeys); i % 3 {
			case 0, 1:
				k = LString("k" + strconv.Itoa(i))
			default:
				k = LNumber(float64(i) + 0.5) // not an array index: the hash part
			}
			var v LValue = LNil
			if rnd.Intn(4) != 0 {
				v = LNumber(op)
			}
			switch rnd.Intn(3) {
			case 0:
				tb.RawSet(k, v)
			case 1:
				tb.RawSetH(k, v)
			default:
				if s, ok := k.(LString); ok {
					tb.RawSetString(string(s), v)
				} else {
					tb.RawSetH(k, v)
				}
			}
			if v != LNil && !seen[k] {
				seen[k] = true
				order = append(order, k)
			}
			if v == LNil {
				delete(vals, k)
			} else {
				vals[k] = v
			}
		}
		var want, got []LValue
		for _, k := range order {
			if _, ok := vals[k]; ok {
				want = append(want, k)
			}
		}
		for k, v := tb.Next(LNil); k != LNil; k, v = tb.Next(k) {
			if vals[k] != v {
				t.Fatalf("round %d: %v = %v, want %v", round, k, v, vals[k])
			}
			got = append(got, k)
		}
		if len(got) != len(want) {
			t.Fatalf("round %d: Next gave %v, want %v", round, got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("round %d: Next gave %v, want %v", round, got, want)
			}
		}
		for k, v := range vals {
			if tb.RawGet(k) != v {
				t.Fatalf("round %d: RawGet(%v) = %v, want %v", round, k, tb.RawGet(k), v)
			}
		}
	}
}

// TestTableLiteralKeys: a table built by the VM from a literal and
// changed by the script iterates in upstream's order.
func TestTableLiteralKeys(t *testing.T) {
	L := NewState()
	defer L.Close()
	err := L.DoString(`
local t = { a = 1, b = 2, c = 3 }
t.b = nil
t.d = 4
t.b = 5
local s = ""
for k, v in pairs(t) do s = s .. k .. v end
assert(s == "a1b5c3d4", s)
local big = {}
for i = 1, 20 do big["k" .. i] = i end
for i = 1, 20, 2 do big["k" .. i] = nil end
big.k3 = 33
local n, sum = 0, 0
for k, v in pairs(big) do n = n + 1; sum = sum + v end
assert(n == 11 and sum == 2+4+6+8+10+12+14+16+18+20+33, n .. " " .. sum)
`)
	if err != nil {
		t.Fatal(err)
	}
}
