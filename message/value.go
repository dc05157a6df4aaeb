package message

// ValueKind tells what a Value holds.
type ValueKind uint8

const (
	// ValueString is text: an XML leaf element or a JSON string. It is the
	// zero ValueKind, so Value{Text: "x"} is the string "x".
	ValueString ValueKind = iota
	// ValueNumber is a JSON number; Text holds its literal exactly as sent.
	ValueNumber
	// ValueBool is a JSON true or false; Text is "true" or "false".
	ValueBool
	// ValueNull is a JSON null; Text is empty.
	ValueNull
	// ValueObject is an XML element with child elements or a JSON object;
	// Fields holds the members in order, duplicates included.
	ValueObject
	// ValueArray is a JSON array; Items holds the elements in order.
	ValueArray
)

// String returns the kind's name ("string", "number", ...).
func (k ValueKind) String() string {
	switch k {
	case ValueString:
		return "string"
	case ValueNumber:
		return "number"
	case ValueBool:
		return "bool"
	case ValueNull:
		return "null"
	case ValueObject:
		return "object"
	case ValueArray:
		return "array"
	}
	return "invalid"
}

// Field is one named member of a push (or of a nested object) that the typed
// model does not cover, kept in body order.
type Field struct {
	Name  string
	Value Value
}

// Value is a generic tree for content the typed model does not know.
//
// XML has no arrays: repeated sibling elements stay repeated Fields, in
// order. When a ValueArray is written as XML, each item becomes one element
// named after the field; a ValueObject becomes an element with children and a
// scalar becomes text.
type Value struct {
	Kind   ValueKind
	Text   string  // ValueString text, ValueNumber literal, ValueBool "true"/"false"
	Fields []Field // ValueObject members
	Items  []Value // ValueArray elements
}

// StringValue returns a ValueString Value.
func StringValue(s string) Value { return Value{Kind: ValueString, Text: s} }

// NumberValue returns a ValueNumber Value holding the JSON number literal lit
// (for example "90" or "1.5e3"); Encode rejects a literal that is not a
// valid JSON number.
func NumberValue(lit string) Value { return Value{Kind: ValueNumber, Text: lit} }

// BoolValue returns a ValueBool Value.
func BoolValue(b bool) Value {
	if b {
		return Value{Kind: ValueBool, Text: "true"}
	}
	return Value{Kind: ValueBool, Text: "false"}
}

// NullValue returns a ValueNull Value.
func NullValue() Value { return Value{Kind: ValueNull} }

// ObjectValue returns a ValueObject Value with the given members.
func ObjectValue(fields ...Field) Value { return Value{Kind: ValueObject, Fields: fields} }

// ArrayValue returns a ValueArray Value with the given items.
func ArrayValue(items ...Value) Value { return Value{Kind: ValueArray, Items: items} }

// Get returns the first member of an object Value named name.
func (v Value) Get(name string) (Value, bool) {
	return getField(v.Fields, name)
}

// String returns Text for scalars and "" for objects and arrays.
func (v Value) String() string {
	if v.Kind == ValueObject || v.Kind == ValueArray {
		return ""
	}
	return v.Text
}

func getField(fs []Field, name string) (Value, bool) {
	for i := range fs {
		if fs[i].Name == name {
			return fs[i].Value, true
		}
	}
	return Value{}, false
}
