package fs_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imscript/imscript/script/scripttest"
)

const luaScript = `
local fs = imscript.fs
local abs = imscript.env.ABS
local function show(v)
  if v == nil then return "nil" end
  if type(v) == "table" then
    local parts = {}
    for i = 1, #v do parts[i] = show(v[i]) end
    return "[" .. table.concat(parts, ",") .. "]"
  end
  if type(v) == "string" then return '"' .. v .. '"' end
  return tostring(v)
end
local function await(f, ...)
  local co = coroutine.running()
  local n = select("#", ...)
  local args = {...}
  args[n + 1] = function(res, err, code) coroutine.resume(co, res, err, code) end
  f(unpack(args, 1, n + 1))
  return coroutine.yield()
end
local function try(name, f, ...)
  local v, err, code = await(f, ...)
  if err then print(name .. " ! " .. err .. " [" .. tostring(code) .. "]") else print(name .. " " .. show(v)) end
end
coroutine.wrap(function()
  try("mkdir", fs.mkdir, "data/sub/deep")
  try("mkdir again", fs.mkdir, "data/sub/deep")
  try("write", fs.write, "data/a.txt", "hello")
  try("append", fs.append, "data/a.txt", " world")
  try("append new", fs.append, "data/new.txt", "x")
  local v = await(fs.read, "data/a.txt")
  print("read " .. v .. " " .. tostring(type(v) == "string"))
  v = await(fs.read, "data/a.txt", { encoding = "utf8" })
  print("read text " .. v .. " " .. tostring(type(v) == "string"))
  local st = await(fs.stat, "data/a.txt")
  print("stat " .. st.size .. " " .. tostring(st.is_dir) .. " " .. tostring(math.abs(st.mtime - imscript.now() / 1000) < 600))
  print("stat dir " .. tostring(await(fs.stat, "data/sub").is_dir))
  try("stat missing", fs.stat, "data/nope")
  for _, n in ipairs({ "b", "a", "C", "10", "9" }) do await(fs.write, "data/sub/" .. n, n) end
  try("list", fs.list, "data/sub")
  local b = {}
  for i = 0, 255 do b[#b + 1] = string.char(i) end
  local all = table.concat(b)
  try("abs write", fs.write, abs .. "/x.bin", all)
  print("abs read " .. tostring(await(fs.read, abs .. "/x.bin") == all))
  try("read missing", fs.read, "data/nope")
  try("read dir", fs.read, "data/sub")
  try("list file", fs.list, "data/a.txt")
  try("write under file", fs.write, "data/a.txt/x", "y")
  try("remove nonempty", fs.remove, "data/sub")
  try("mkdir over file", fs.mkdir, "data/a.txt")
  try("remove missing", fs.remove, "data/nope")
  try("remove file", fs.remove, "data/new.txt")
  try("remove recursive", fs.remove, "data/sub", { recursive = true })
  try("remove recursive missing", fs.remove, "data/sub", { recursive = true })
  try("list after", fs.list, "data")
  local big = string.rep("0123456789abcdef", 65536 * 10)
  try("big write", fs.write, "big.bin", big)
  local got = await(fs.read, "big.bin")
  print("big read " .. tostring(got == big) .. " " .. #got)
  print("done")
end)()
`

const jsScript = `
const fs = imscript.fs;
const abs = imscript.env.ABS;
const show = (v) => v === null || v === undefined ? "nil" : Array.isArray(v) ? "[" + v.map(show).join(",") + "]" : typeof v === "string" ? '"' + v + '"' : String(v);
async function tryIt(name, p) {
  try { console.log(name + " " + show(await p)); } catch (e) { console.log(name + " ! " + e.message + " [" + e.code + "]"); }
}
imscript.after(1, async () => {
  await tryIt("mkdir", fs.mkdir("data/sub/deep"));
  await tryIt("mkdir again", fs.mkdir("data/sub/deep"));
  await tryIt("write", fs.write("data/a.txt", "hello"));
  await tryIt("append", fs.append("data/a.txt", Buffer.from(" world")));
  await tryIt("append new", fs.append("data/new.txt", "x"));
  let v = await fs.read("data/a.txt");
  console.log("read " + v + " " + Buffer.isBuffer(v));
  v = await fs.read("data/a.txt", { encoding: "utf8" });
  console.log("read text " + v + " " + (typeof v === "string"));
  const st = await fs.stat("data/a.txt");
  console.log("stat " + st.size + " " + st.is_dir + " " + (Math.abs(st.mtime - imscript.now() / 1000) < 600));
  console.log("stat dir " + (await fs.stat("data/sub")).is_dir);
  await tryIt("stat missing", fs.stat("data/nope"));
  for (const n of ["b", "a", "C", "10", "9"]) await fs.write("data/sub/" + n, n);
  await tryIt("list", fs.list("data/sub"));
  const all = Buffer.alloc(256);
  for (let i = 0; i < 256; i++) all[i] = i;
  await tryIt("abs write", fs.write(abs + "/x.bin", all));
  console.log("abs read " + (await fs.read(abs + "/x.bin")).equals(all));
  await tryIt("read missing", fs.read("data/nope"));
  await tryIt("read dir", fs.read("data/sub"));
  await tryIt("list file", fs.list("data/a.txt"));
  await tryIt("write under file", fs.write("data/a.txt/x", "y"));
  await tryIt("remove nonempty", fs.remove("data/sub"));
  await tryIt("mkdir over file", fs.mkdir("data/a.txt"));
  await tryIt("remove missing", fs.remove("data/nope"));
  await tryIt("remove file", fs.remove("data/new.txt"));
  await tryIt("remove recursive", fs.remove("data/sub", { recursive: true }));
  await tryIt("remove recursive missing", fs.remove("data/sub", { recursive: true }));
  await tryIt("list after", fs.list("data"));
  const big = Buffer.from("0123456789abcdef".repeat(65536 * 10));
  await tryIt("big write", fs.write("big.bin", big));
  const got = await fs.read("big.bin");
  console.log("big read " + got.equals(big) + " " + got.length);
  console.log("done");
});
`

const want = `mkdir true
mkdir again true
write true
append true
append new true
read hello world true
read text hello world true
stat 11 false true
stat dir true
stat missing nil
list ["10","9","C","a","b","deep"]
abs write true
abs read true
read missing ! fs.read data/nope: no such file or directory [ENOENT]
read dir ! fs.read data/sub: is a directory [EISDIR]
list file ! fs.list data/a.txt: not a directory [ENOTDIR]
write under file ! fs.write data/a.txt/x: not a directory [ENOTDIR]
remove nonempty ! fs.remove data/sub: directory not empty [ENOTEMPTY]
mkdir over file ! fs.mkdir data/a.txt: file exists [EEXIST]
remove missing ! fs.remove data/nope: no such file or directory [ENOENT]
remove file true
remove recursive true
remove recursive missing ! fs.remove data/sub: no such file or directory [ENOENT]
list after ["a.txt"]
big write true
big read true 10485760
done
`

// TestFS: every function in both languages, relative paths (against the
// script's folder) and absolute ones, failures with their errno's name,
// a 10 MiB file.
func TestFS(t *testing.T) {
	for _, lang := range scripttest.Langs {
		t.Run(lang, func(t *testing.T) {
			src := luaScript
			if lang == "js" {
				src = jsScript
			}
			abs := t.TempDir()
			h := scripttest.Start(t, scripttest.Options{Lang: lang, Src: src, Env: map[string]string{"ABS": abs}})
			h.Expect("done", want)
			if b, err := os.ReadFile(filepath.Join(h.Dir, "data", "a.txt")); err != nil || string(b) != "hello world" {
				t.Errorf("data/a.txt in the script's folder: %q, %v", b, err)
			}
			if b, err := os.ReadFile(filepath.Join(abs, "x.bin")); err != nil || len(b) != 256 || b[255] != 255 {
				t.Errorf("the absolute file: %d bytes, %v", len(b), err)
			}
			if st, err := os.Stat(filepath.Join(h.Dir, "big.bin")); err != nil || st.Size() != 10<<20 {
				t.Errorf("big.bin: %v", err)
			}
			if l := h.LogLines(); l != "" {
				t.Errorf("the host logged:\n%s", l)
			}
		})
	}
}

// TestFSUsage: misuse raises at the call.
func TestFSUsage(t *testing.T) {
	srcs := map[string]string{"lua": `
local function try(name, f, ...)
  local ok, err = pcall(f, ...)
  print(name .. ": " .. tostring(err):gsub("^.-:%d+: ", ""))
end
try("no path", imscript.fs.read)
try("empty", imscript.fs.read, "")
try("no data", imscript.fs.write, "x")
try("encoding", imscript.fs.read, "x", { encoding = "latin1" })
try("option", imscript.fs.remove, "x", { force = true })
print("done")
`, "js": `
function tryIt(name, f) { try { f(); console.log(name + ": no error?!"); } catch (e) { console.log(name + ": " + e.message); } }
tryIt("no path", () => imscript.fs.read());
tryIt("empty", () => imscript.fs.read(""));
tryIt("no data", () => imscript.fs.write("x"));
tryIt("encoding", () => imscript.fs.read("x", { encoding: "latin1" }));
tryIt("option", () => imscript.fs.remove("x", { force: true }));
console.log("done");
`}
	for _, lang := range scripttest.Langs {
		t.Run(lang, func(t *testing.T) {
			h := scripttest.Start(t, scripttest.Options{Lang: lang, Src: srcs[lang]})
			out := h.WaitStdout("done")
			for _, w := range []string{
				"no path: fs.read: bad argument #1 (path): string expected, got no value",
				"empty: fs.read: bad argument #1 (path): the path is empty",
				"no data: fs.write: bad argument #2 (data): string expected, got no value",
				`encoding: fs.read: option encoding: want "utf8" (or none, for bytes), got "latin1"`,
				`option: fs.remove: unknown option "force" (options: recursive)`,
			} {
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
		})
	}
}
