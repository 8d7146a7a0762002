// Package safetensors reads and writes the safetensors file format (an 8-byte header length, a
// JSON header naming each tensor's dtype, shape and byte range, then the data), with tensors as
// float32: F32, F16 and BF16 files are read, F32 written. lab/hfmodel keeps the Hugging Face
// model folder these files are part of.
//
// A small codec of our own rather than go-huggingface's reader: that one slices its mmap without
// checking the file's length (a truncated download panics) and its errors do not name the file
// and tensor, which is what a user needs to fix a broken model folder.
package safetensors

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"os"
	"slices"

	"github.com/gomlx/compute/dtypes/bfloat16"
	"github.com/gomlx/compute/dtypes/float16"
	"github.com/tunelab/tunelab/internal/atomicfile"
)

// Tensor is a float32 tensor in row-major order.
type Tensor struct {
	Shape []int
	Data  []float32
}

type tensorHeader struct {
	DType   string   `json:"dtype"`
	Shape   []int    `json:"shape"`
	Offsets [2]int64 `json:"data_offsets"`
}

// maxHeaderSize bounds the JSON header so a corrupt length cannot make us allocate gigabytes.
const maxHeaderSize = 100 << 20

// File is a read .safetensors file whose tensors are decoded on demand, so tensors tunelab
// ignores (an int64 position_ids buffer, say) need not be in a dtype it decodes.
type File struct {
	path    string
	headers map[string]tensorHeader
	body    []byte
}

// Read reads the .safetensors file at path and validates its header.
func Read(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(data) < 8 {
		return nil, fmt.Errorf("%s: not a safetensors file (%d bytes, truncated?)", path, len(data))
	}
	headerLen := binary.LittleEndian.Uint64(data[:8])
	if headerLen > maxHeaderSize || 8+headerLen > uint64(len(data)) {
		return nil, fmt.Errorf("%s: header length %d does not fit in the file's %d bytes (truncated or not safetensors)", path, headerLen, len(data))
	}
	var header map[string]json.RawMessage
	if err := json.Unmarshal(data[8:8+headerLen], &header); err != nil {
		return nil, fmt.Errorf("%s: invalid header: %w", path, err)
	}
	f := &File{path: path, headers: make(map[string]tensorHeader, len(header)), body: data[8+headerLen:]}
	for name, raw := range header {
		if name == "__metadata__" {
			continue
		}
		var h tensorHeader
		if err := json.Unmarshal(raw, &h); err != nil {
			return nil, fmt.Errorf("%s: tensor %q: invalid header entry: %w", path, name, err)
		}
		f.headers[name] = h
	}
	return f, nil
}

// Names lists the file's tensors in sorted order, so that a reader going through them meets a
// broken file's errors always in the same order.
func (f *File) Names() []string { return slices.Sorted(maps.Keys(f.headers)) }

// Shape is the shape the header gives the tensor name (nil for none), without decoding it.
func (f *File) Shape(name string) []int { return f.headers[name].Shape }

// Tensor decodes the named tensor as f32.
func (f *File) Tensor(name string) (Tensor, error) {
	t, err := decodeTensor(f.headers[name], f.body)
	if err != nil {
		return Tensor{}, fmt.Errorf("%s: tensor %q: %w", f.path, name, err)
	}
	return t, nil
}

func decodeTensor(h tensorHeader, body []byte) (Tensor, error) {
	size := 1
	for _, d := range h.Shape {
		if d < 0 {
			return Tensor{}, fmt.Errorf("negative dimension in shape %v", h.Shape)
		}
		size *= d
	}
	var width int
	switch h.DType {
	case "F32":
		width = 4
	case "F16", "BF16":
		width = 2
	default:
		return Tensor{}, fmt.Errorf("dtype %s is not supported (F32, F16, BF16)", h.DType)
	}
	start, end := h.Offsets[0], h.Offsets[1]
	if start < 0 || end < start || end > int64(len(body)) {
		return Tensor{}, fmt.Errorf("data at bytes [%d, %d) is past the end of the file's %d data bytes (truncated download?)", start, end, len(body))
	}
	if end-start != int64(size*width) {
		return Tensor{}, fmt.Errorf("shape %v of %s needs %d bytes, header gives %d", h.Shape, h.DType, size*width, end-start)
	}
	raw := body[start:end]
	values := make([]float32, size)
	for i := range values {
		switch h.DType {
		case "F32":
			values[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		case "F16":
			values[i] = float16.Float16(binary.LittleEndian.Uint16(raw[2*i:])).Float32()
		case "BF16":
			values[i] = bfloat16.BFloat16(binary.LittleEndian.Uint16(raw[2*i:])).Float32()
		}
	}
	return Tensor{Shape: append([]int{}, h.Shape...), Data: values}, nil
}

// Write writes named f32 tensors and metadata (the header's "__metadata__"; none when empty) to
// path atomically (a temp file renamed over it), so a failure -- a full disk, a crash -- leaves
// any previous file intact.
func Write(path string, named map[string]Tensor, metadata map[string]string) error {
	names := slices.Sorted(maps.Keys(named))
	header := make(map[string]any, len(names)+1)
	if len(metadata) > 0 {
		header["__metadata__"] = metadata
	}
	var offset int64
	for _, name := range names {
		n := int64(4 * len(named[name].Data))
		header[name] = tensorHeader{DType: "F32", Shape: named[name].Shape, Offsets: [2]int64{offset, offset + n}}
		offset += n
	}
	headerJSON, err := json.Marshal(header)
	if err != nil {
		return err
	}
	// Pad the header with spaces to 8 bytes, as the reference implementation does, so the data is aligned.
	for len(headerJSON)%8 != 0 {
		headerJSON = append(headerJSON, ' ')
	}
	buf := make([]byte, 0, 8+len(headerJSON)+int(offset))
	buf = binary.LittleEndian.AppendUint64(buf, uint64(len(headerJSON)))
	buf = append(buf, headerJSON...)
	for _, name := range names {
		for _, v := range named[name].Data {
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
		}
	}
	return atomicfile.WriteFile(path, buf)
}
