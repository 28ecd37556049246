package wsframe

import (
	"bytes"
	"compress/flate"
	"errors"
	"io"
	"sync"
)

// MinCompress is the smallest payload worth compressing.
const MinCompress = 64

// ErrTooBig is Inflate's error for a message that inflates to more than its
// limit.
var ErrTooBig = errors.New("inflated message too big")

var (
	flateWriters  = sync.Pool{New: func() any { w, _ := flate.NewWriter(nil, flate.BestSpeed); return w }}
	flateReaders  = sync.Pool{New: func() any { return flate.NewReader(bytes.NewReader(nil)) }}
	deflateTailer = []byte{0x00, 0x00, 0xff, 0xff}
)

// Deflate compresses one message for permessage-deflate without context
// takeover (RFC 7692 7.2.1: a sync flush, its empty-block tail removed).
// Send the result with RSV1 set.
func Deflate(p []byte) ([]byte, error) {
	var b bytes.Buffer
	fw := flateWriters.Get().(*flate.Writer)
	defer flateWriters.Put(fw)
	fw.Reset(&b)
	if _, err := fw.Write(p); err != nil {
		return nil, err
	}
	if err := fw.Flush(); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), deflateTailer), nil
}

// Inflate decompresses one permessage-deflate message (RFC 7692 7.2.2),
// refusing with ErrTooBig one that inflates to more than max bytes.
func Inflate(p []byte, max int) ([]byte, error) {
	fr := flateReaders.Get().(io.ReadCloser)
	defer flateReaders.Put(fr)
	if err := fr.(flate.Resetter).Reset(io.MultiReader(bytes.NewReader(p), bytes.NewReader(deflateTailer)), nil); err != nil {
		return nil, err
	}
	out, err := io.ReadAll(io.LimitReader(fr, int64(max)+1))
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, err
	}
	if len(out) > max {
		return nil, ErrTooBig
	}
	return out, nil
}
