package pool

import "encoding/json"

// Codec turns task inputs and outputs into bytes and back. The parent
// and the workers run the same binary, so they use the same codec.
type Codec interface {
	Marshal(v any) ([]byte, error)
	Unmarshal(data []byte, v any) error
}

// JSON is the default codec (encoding/json).
var JSON Codec = jsonCodec{}

type jsonCodec struct{}

func (jsonCodec) Marshal(v any) ([]byte, error)      { return json.Marshal(v) }
func (jsonCodec) Unmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

// encode encodes v with c; a []byte passes through untouched.
func encode[T any](c Codec, v T) ([]byte, error) {
	if b, ok := any(v).([]byte); ok {
		return b, nil
	}
	return c.Marshal(v)
}

// decode decodes b with c; a []byte passes through untouched.
func decode[T any](c Codec, b []byte) (T, error) {
	var v T
	if p, ok := any(&v).(*[]byte); ok {
		*p = b
		return v, nil
	}
	err := c.Unmarshal(b, &v)
	return v, err
}
