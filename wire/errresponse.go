package wire

import (
	"errors"
	"reflect"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ErrorResponse builds req's response, at req's version, carrying code everywhere a
// client looks. It works for any kmsg request by reflection:
//   - every int16 field named ErrorCode gets code, and every *string ErrorMessage next to
//     it the code's description;
//   - every slice of structs in the response whose request counterpart (same field name)
//     is a slice is filled with one element per request element, so a Produce or Fetch
//     answer names each requested topic and partition. Scalar fields (Topic, TopicID,
//     Partition, ...) with the same name and type are copied across; a request slice of
//     scalars such as OffsetFetch's Partitions []int32 fills the singular field
//     (Partition) of the response elements.
//
// Hand-written builders (API.Error) are still better where a response has no error code
// in the place a client reads first.
func ErrorResponse(req kmsg.Request, code int16) kmsg.Response {
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	var msg *string
	if code != 0 {
		var kerrErr *kerr.Error
		if errors.As(kerr.ErrorForCode(code), &kerrErr) {
			m := kerrErr.Description
			msg = &m
		}
	}
	fillErrorStruct(reflect.ValueOf(resp).Elem(), reflect.ValueOf(req).Elem(), code, msg)
	return resp
}

var (
	int16Type      = reflect.TypeFor[int16]()
	stringPtrType  = reflect.TypeFor[*string]()
	errorCodeField = "ErrorCode"
	errorMsgField  = "ErrorMessage"
)

// fillErrorStruct sets the error fields of dst and mirrors src's slices into it. src is
// the request struct at the same position, or invalid when there is none.
func fillErrorStruct(dst, src reflect.Value, code int16, msg *string) {
	t := dst.Type()
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		f := dst.Field(i)
		switch {
		case sf.Name == errorCodeField && sf.Type == int16Type:
			f.SetInt(int64(code))
		case sf.Name == errorMsgField && sf.Type == stringPtrType:
			if msg != nil {
				f.Set(reflect.ValueOf(msg))
			}
		case sf.Type.Kind() == reflect.Slice && sf.Type.Elem().Kind() == reflect.Struct:
			fillErrorSlice(f, fieldOf(src, sf.Name), sf.Name, code, msg)
		case sf.Type.Kind() == reflect.Struct:
			fillErrorStruct(f, structFieldOf(src, sf.Name), code, msg)
		}
	}
}

// fillErrorSlice fills a response slice of structs from the request slice src (when it
// exists), or fills the elements dst already holds.
func fillErrorSlice(dst, src reflect.Value, name string, code int16, msg *string) {
	if !src.IsValid() || src.Kind() != reflect.Slice {
		for j := 0; j < dst.Len(); j++ {
			fillErrorStruct(dst.Index(j), reflect.Value{}, code, msg)
		}
		return
	}
	n := src.Len()
	out := reflect.MakeSlice(dst.Type(), n, n)
	singular := strings.TrimSuffix(name, "s")
	for j := 0; j < n; j++ {
		elem := out.Index(j)
		if d, ok := elem.Addr().Interface().(interface{ Default() }); ok {
			d.Default()
		}
		srcElem := src.Index(j)
		if srcElem.Kind() == reflect.Struct {
			copyScalars(elem, srcElem)
			fillErrorStruct(elem, srcElem, code, msg)
			continue
		}
		if f := elem.FieldByName(singular); f.IsValid() && f.CanSet() && f.Type() == srcElem.Type() && isScalar(f.Type()) {
			f.Set(srcElem)
		}
		fillErrorStruct(elem, reflect.Value{}, code, msg)
	}
	dst.Set(out)
}

// copyScalars copies the scalar fields of src into the same-named, same-typed fields of
// dst: the names that identify a topic, partition, group or resource.
func copyScalars(dst, src reflect.Value) {
	st := src.Type()
	for i := 0; i < st.NumField(); i++ {
		sf := st.Field(i)
		if !sf.IsExported() || !isScalar(sf.Type) || sf.Name == errorCodeField || sf.Name == errorMsgField {
			continue
		}
		f := dst.FieldByName(sf.Name)
		if f.IsValid() && f.CanSet() && f.Type() == sf.Type {
			f.Set(src.Field(i))
		}
	}
}

func isScalar(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Bool, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.String:
		return true
	case reflect.Array: // UUIDs
		return t.Elem().Kind() == reflect.Uint8
	case reflect.Pointer: // nullable strings
		return t.Elem().Kind() == reflect.String
	}
	return false
}

func fieldOf(v reflect.Value, name string) reflect.Value {
	if !v.IsValid() || v.Kind() != reflect.Struct {
		return reflect.Value{}
	}
	return v.FieldByName(name)
}

func structFieldOf(v reflect.Value, name string) reflect.Value {
	if f := fieldOf(v, name); f.IsValid() && f.Kind() == reflect.Struct {
		return f
	}
	return reflect.Value{}
}

// topLevelErrorCode returns the response's top-level ErrorCode field, or 0 when its
// type has none (errors then live per topic/partition).
func topLevelErrorCode(resp kmsg.Response) int16 {
	v := reflect.ValueOf(resp)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return 0
	}
	f := v.Elem().FieldByName(errorCodeField)
	if !f.IsValid() || f.Type() != int16Type {
		return 0
	}
	return int16(f.Int())
}
