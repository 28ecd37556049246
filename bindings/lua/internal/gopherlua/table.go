package lua

const defaultArrayCap = 32
const defaultHashCap = 32

type lValueArraySorter struct {
	L      *LState
	Fn     *LFunction
	Values []LValue
}

func (lv lValueArraySorter) Len() int {
	return len(lv.Values)
}

func (lv lValueArraySorter) Swap(i, j int) {
	lv.Values[i], lv.Values[j] = lv.Values[j], lv.Values[i]
}

func (lv lValueArraySorter) Less(i, j int) bool {
	if lv.Fn != nil {
		lv.L.Push(lv.Fn)
		lv.L.Push(lv.Values[i])
		lv.L.Push(lv.Values[j])
		lv.L.Call(2, 1)
		return LVAsBool(lv.L.reg.Pop())
	}
	return lessThan(lv.L, lv.Values[i], lv.Values[j])
}

func newLTable(acap int, hcap int) *LTable {
	if acap < 0 {
		acap = 0
	}
	if hcap < 0 {
		hcap = 0
	}
	var tb *LTable
	switch {
	case hcap == 0:
		tb = &LTable{}
	case hcap <= smallKeys:
		tb = newSmallTable(hcap)
	default:
		tb = &LTable{big: &bigHash{
			strdict: make(map[string]LValue, hcap),
			keys:    make([]LValue, 0, hcap),
		}}
	}
	tb.Metatable = LNil
	if acap != 0 {
		tb.array = make([]LValue, 0, acap)
	}
	return tb
}

// newSmallTable makes a table and room for hcap (1 to smallKeys) slots
// in one allocation.
func newSmallTable(hcap int) *LTable {
	switch {
	case hcap == 1:
		p := &struct {
			t LTable
			s [1]hslot
		}{}
		p.t.slots = p.s[:0]
		return &p.t
	case hcap == 2:
		p := &struct {
			t LTable
			s [2]hslot
		}{}
		p.t.slots = p.s[:0]
		return &p.t
	case hcap == 3:
		p := &struct {
			t LTable
			s [3]hslot
		}{}
		p.t.slots = p.s[:0]
		return &p.t
	case hcap == 4:
		p := &struct {
			t LTable
			s [4]hslot
		}{}
		p.t.slots = p.s[:0]
		return &p.t
	case hcap <= 6:
		p := &struct {
			t LTable
			s [6]hslot
		}{}
		p.t.slots = p.s[:0]
		return &p.t
	default:
		p := &struct {
			t LTable
			s [smallKeys]hslot
		}{}
		p.t.slots = p.s[:0]
		return &p.t
	}
}

// The hash part (keys that are not array indexes) of a small table is
// slots: each key and its value in the order the keys came, a key set to
// nil keeping its slot (and its place, as upstream's keys do), found by a
// scan. A table that gets more than smallKeys keys moves them to maps
// (big): strdict, dict, keys in order for Next, and k2i, each key's place.

// smallKeys is the most keys of a table's slots.
const smallKeys = 8

// hslot is a key of a small table's hash part and its value (LNil once
// it is set to nil).
type hslot struct {
	k, v LValue
}

// slotString is the slot of string key key, or -1.
func (tb *LTable) slotString(key string) int {
	for i := range tb.slots {
		if s, ok := tb.slots[i].k.(LString); ok && string(s) == key {
			return i
		}
	}
	return -1
}

// slotOf is the slot of key (not a string), or -1.
func (tb *LTable) slotOf(key LValue) int {
	for i := range tb.slots {
		if tb.slots[i].k == key {
			return i
		}
	}
	return -1
}

// addSlot adds a new key to a small table, or makes it big when its
// slots are full; it says whether it did the first.
func (tb *LTable) addSlot(key, value LValue) bool {
	if len(tb.slots) < smallKeys {
		if tb.slots == nil {
			tb.slots = make([]hslot, 0, 4)
		}
		tb.slots = append(tb.slots, hslot{key, value})
		return true
	}
	tb.big = &bigHash{}
	tb.big.keys = make([]LValue, 0, 2*smallKeys)
	for _, sl := range tb.slots {
		tb.big.keys = append(tb.big.keys, sl.k)
		if sl.v == LNil {
			tb.big.deleted = true
			continue
		}
		if ks, ok := sl.k.(LString); ok {
			if tb.big.strdict == nil {
				tb.big.strdict = make(map[string]LValue, 2*smallKeys)
			}
			tb.big.strdict[string(ks)] = sl.v
		} else {
			if tb.big.dict == nil {
				tb.big.dict = make(map[LValue]LValue, smallKeys)
			}
			tb.big.dict[sl.k] = sl.v
		}
	}
	tb.slots = nil
	return false
}

// addKey notes a key that is not in a big table's maps (any more): it is
// appended to keys unless it is already there (set to nil before: a
// deleted key stays in keys, as upstream's).
func (tb *LTable) addKey(key LValue) {
	if tb.big.deleted && tb.keyIndex(key) >= 0 {
		return
	}
	if tb.big.k2i != nil {
		tb.big.k2i[key] = len(tb.big.keys)
	} else if len(tb.big.keys) >= smallKeys {
		tb.big.k2i = make(map[LValue]int, 2*len(tb.big.keys))
		for i, k := range tb.big.keys {
			tb.big.k2i[k] = i
		}
		tb.big.k2i[key] = len(tb.big.keys)
	}
	tb.big.keys = append(tb.big.keys, key)
}

// keyIndex is key's place in a big table's keys, or -1.
func (tb *LTable) keyIndex(key LValue) int {
	if tb.big.k2i != nil {
		if i, ok := tb.big.k2i[key]; ok {
			return i
		}
		return -1
	}
	for i, k := range tb.big.keys {
		if k == key {
			return i
		}
	}
	return -1
}

// Len returns length of this LTable without using __len.
func (tb *LTable) Len() int {
	if tb.array == nil {
		return 0
	}
	var prev LValue = LNil
	for i := len(tb.array) - 1; i >= 0; i-- {
		v := tb.array[i]
		if prev == LNil && v != LNil {
			return i + 1
		}
		prev = v
	}
	return 0
}

// Append appends a given LValue to this LTable.
func (tb *LTable) Append(value LValue) {
	if value == LNil {
		return
	}
	if tb.array == nil {
		tb.array = make([]LValue, 0, defaultArrayCap)
	}
	if len(tb.array) == 0 || tb.array[len(tb.array)-1] != LNil {
		tb.array = append(tb.array, value)
	} else {
		i := len(tb.array) - 2
		for ; i >= 0; i-- {
			if tb.array[i] != LNil {
				break
			}
		}
		tb.array[i+1] = value
	}
}

// Insert inserts a given LValue at position `i` in this table.
func (tb *LTable) Insert(i int, value LValue) {
	if tb.array == nil {
		tb.array = make([]LValue, 0, defaultArrayCap)
	}
	if i > len(tb.array) {
		tb.RawSetInt(i, value)
		return
	}
	if i <= 0 {
		tb.RawSet(LNumber(i), value)
		return
	}
	i -= 1
	tb.array = append(tb.array, LNil)
	copy(tb.array[i+1:], tb.array[i:])
	tb.array[i] = value
}

// MaxN returns a maximum number key that nil value does not exist before it.
func (tb *LTable) MaxN() int {
	if tb.array == nil {
		return 0
	}
	for i := len(tb.array) - 1; i >= 0; i-- {
		if tb.array[i] != LNil {
			return i + 1
		}
	}
	return 0
}

// Remove removes from this table the element at a given position.
func (tb *LTable) Remove(pos int) LValue {
	if tb.array == nil {
		return LNil
	}
	larray := len(tb.array)
	if larray == 0 {
		return LNil
	}
	i := pos - 1
	oldval := LNil
	switch {
	case i >= larray:
		// nothing to do
	case i == larray-1 || i < 0:
		oldval = tb.array[larray-1]
		tb.array = tb.array[:larray-1]
	default:
		oldval = tb.array[i]
		copy(tb.array[i:], tb.array[i+1:])
		tb.array[larray-1] = nil
		tb.array = tb.array[:larray-1]
	}
	return oldval
}

// RawSet sets a given LValue to a given index without the __newindex metamethod.
// It is recommended to use `RawSetString` or `RawSetInt` for performance
// if you already know the given LValue is a string or number.
func (tb *LTable) RawSet(key LValue, value LValue) {
	switch v := key.(type) {
	case LNumber:
		if isArrayKey(v) {
			if tb.array == nil {
				tb.array = make([]LValue, 0, defaultArrayCap)
			}
			index := int(v) - 1
			alen := len(tb.array)
			switch {
			case index == alen:
				tb.array = append(tb.array, value)
			case index > alen:
				for i := 0; i < (index - alen); i++ {
					tb.array = append(tb.array, LNil)
				}
				tb.array = append(tb.array, value)
			case index < alen:
				tb.array[index] = value
			}
			return
		}
	case LString:
		tb.rawSetString(string(v), key, value)
		return
	}

	tb.RawSetH(key, value)
}

// RawSetInt sets a given LValue at a position `key` without the __newindex metamethod.
func (tb *LTable) RawSetInt(key int, value LValue) {
	if key < 1 || key >= MaxArrayIndex {
		tb.RawSetH(LNumber(key), value)
		return
	}
	if tb.array == nil {
		tb.array = make([]LValue, 0, 32)
	}
	index := key - 1
	alen := len(tb.array)
	switch {
	case index == alen:
		tb.array = append(tb.array, value)
	case index > alen:
		for i := 0; i < (index - alen); i++ {
			tb.array = append(tb.array, LNil)
		}
		tb.array = append(tb.array, value)
	case index < alen:
		tb.array[index] = value
	}
}

// RawSetString sets a given LValue to a given string index without the __newindex metamethod.
func (tb *LTable) RawSetString(key string, value LValue) {
	tb.rawSetString(key, nil, value)
}

// rawSetString is RawSetString with the key's LValue when the caller has
// one (a constant's), so that a new key is not boxed again; lkey may be
// nil.
func (tb *LTable) rawSetString(key string, lkey LValue, value LValue) {
	if tb.big == nil {
		if i := tb.slotString(key); i >= 0 {
			tb.slots[i].v = value
			return
		}
		if value == LNil {
			return
		}
		if lkey == nil {
			lkey = LString(key)
		}
		if tb.addSlot(lkey, value) {
			return
		}
	}
	if value == LNil {
		if tb.big.strdict != nil {
			if _, ok := tb.big.strdict[key]; ok {
				delete(tb.big.strdict, key)
				tb.big.deleted = true
			}
		}
		return
	}
	if tb.big.strdict == nil {
		tb.big.strdict = make(map[string]LValue, defaultHashCap)
	}
	n := len(tb.big.strdict)
	tb.big.strdict[key] = value
	if len(tb.big.strdict) != n {
		if lkey == nil {
			lkey = LString(key)
		}
		tb.addKey(lkey)
	}
}

// RawSetH sets a given LValue to a given index without the __newindex metamethod.
func (tb *LTable) RawSetH(key LValue, value LValue) {
	if s, ok := key.(LString); ok {
		tb.rawSetString(string(s), key, value)
		return
	}
	if tb.big == nil {
		if i := tb.slotOf(key); i >= 0 {
			tb.slots[i].v = value
			return
		}
		if value == LNil || tb.addSlot(key, value) {
			return
		}
	}
	if value == LNil {
		if tb.big.dict != nil {
			if _, ok := tb.big.dict[key]; ok {
				delete(tb.big.dict, key)
				tb.big.deleted = true
			}
		}
		return
	}
	if tb.big.dict == nil {
		tb.big.dict = make(map[LValue]LValue, len(tb.big.strdict))
	}
	n := len(tb.big.dict)
	tb.big.dict[key] = value
	if len(tb.big.dict) != n {
		tb.addKey(key)
	}
}

// RawGet returns an LValue associated with a given key without __index metamethod.
func (tb *LTable) RawGet(key LValue) LValue {
	switch v := key.(type) {
	case LNumber:
		if isArrayKey(v) {
			if tb.array == nil {
				return LNil
			}
			index := int(v) - 1
			if index >= len(tb.array) {
				return LNil
			}
			return tb.array[index]
		}
	case LString:
		return tb.RawGetString(string(v))
	}
	return tb.rawGetOther(key)
}

// rawGetOther is RawGet of a key of the hash part that is not a string.
func (tb *LTable) rawGetOther(key LValue) LValue {
	if tb.big == nil {
		if i := tb.slotOf(key); i >= 0 {
			return tb.slots[i].v
		}
		return LNil
	}
	if tb.big.dict == nil {
		return LNil
	}
	if v, ok := tb.big.dict[key]; ok {
		return v
	}
	return LNil
}

// RawGetInt returns an LValue at position `key` without __index metamethod.
func (tb *LTable) RawGetInt(key int) LValue {
	if tb.array == nil {
		return LNil
	}
	index := int(key) - 1
	if index >= len(tb.array) || index < 0 {
		return LNil
	}
	return tb.array[index]
}

// RawGet returns an LValue associated with a given key without __index metamethod.
func (tb *LTable) RawGetH(key LValue) LValue {
	if s, sok := key.(LString); sok {
		return tb.RawGetString(string(s))
	}
	return tb.rawGetOther(key)
}

// RawGetString returns an LValue associated with a given key without __index metamethod.
func (tb *LTable) RawGetString(key string) LValue {
	if tb.big == nil {
		if i := tb.slotString(key); i >= 0 {
			return tb.slots[i].v
		}
		return LNil
	}
	if tb.big.strdict == nil {
		return LNil
	}
	if v, vok := tb.big.strdict[key]; vok {
		return v
	}
	return LNil
}

// ForEach iterates over this table of elements, yielding each in turn to a given function.
func (tb *LTable) ForEach(cb func(LValue, LValue)) {
	if tb.array != nil {
		for i, v := range tb.array {
			if v != LNil {
				cb(LNumber(i+1), v)
			}
		}
	}
	for _, sl := range tb.slots {
		if sl.v != LNil {
			cb(sl.k, sl.v)
		}
	}
	if tb.big == nil {
		return
	}
	if tb.big.strdict != nil {
		for k, v := range tb.big.strdict {
			if v != LNil {
				cb(LString(k), v)
			}
		}
	}
	if tb.big.dict != nil {
		for k, v := range tb.big.dict {
			if v != LNil {
				cb(k, v)
			}
		}
	}
}

// This function is equivalent to lua_next ( http://www.lua.org/manual/5.1/manual.html#lua_next ).
func (tb *LTable) Next(key LValue) (LValue, LValue) {
	init := false
	if key == LNil {
		key = LNumber(0)
		init = true
	}

	if init || key != LNumber(0) {
		if kv, ok := key.(LNumber); ok && isInteger(kv) && int(kv) >= 0 && kv < LNumber(MaxArrayIndex) {
			index := int(kv)
			if tb.array != nil {
				for ; index < len(tb.array); index++ {
					if v := tb.array[index]; v != LNil {
						return LNumber(index + 1), v
					}
				}
			}
			if tb.array == nil || index == len(tb.array) {
				return tb.nextHash(0)
			}
		}
	}
	// A key not in the hash part goes on from its second key, as
	// upstream's k2i lookup (0 for a missing key) did.
	var i int
	if tb.big != nil {
		i = tb.keyIndex(key)
	} else {
		i = tb.slotOf(key)
	}
	return tb.nextHash(max(i, 0) + 1)
}

// nextHash is the first key of the hash part from place i on that has a
// value, and that value.
func (tb *LTable) nextHash(i int) (LValue, LValue) {
	if tb.big == nil {
		for ; i < len(tb.slots); i++ {
			if sl := tb.slots[i]; sl.v != LNil {
				return sl.k, sl.v
			}
		}
		return LNil, LNil
	}
	for ; i < len(tb.big.keys); i++ {
		key := tb.big.keys[i]
		if v := tb.RawGetH(key); v != LNil {
			return key, v
		}
	}
	return LNil, LNil
}
