package message

import (
	"errors"
	"strconv"
)

// ErrMalformed is wrapped by every error that reports a body which is not a
// well-formed push (bad syntax, unsupported XML construct, wrong top-level
// shape). Test for it with errors.Is.
var ErrMalformed = errors.New("message: malformed body")

// ErrUnencodable is wrapped by Encode errors for values that cannot be
// represented in the requested format, such as a string holding a control
// character or invalid UTF-8, or a Push type this package does not know.
var ErrUnencodable = errors.New("message: value cannot be encoded")

// Format is a push body's wire format, as configured in the mini program
// console (数据格式).
type Format uint8

const (
	// FormatXML is the XML data format (the console default).
	FormatXML Format = iota + 1
	// FormatJSON is the JSON data format.
	FormatJSON
)

// String returns "xml", "json", or "Format(n)" for an invalid value.
func (f Format) String() string {
	switch f {
	case FormatXML:
		return "xml"
	case FormatJSON:
		return "json"
	}
	return "Format(" + strconv.Itoa(int(f)) + ")"
}

// DetectFormat sniffs the format of body from its first non-space byte:
// '<' is XML and '{' is JSON. Anything else is an error wrapping
// ErrMalformed.
func DetectFormat(body []byte) (Format, error) {
	for i, c := range body {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		case '<':
			return FormatXML, nil
		case '{':
			return FormatJSON, nil
		}
		return 0, &SyntaxError{Offset: i, Msg: "body is neither XML nor a JSON object"}
	}
	return 0, &SyntaxError{Offset: len(body), Msg: "empty body"}
}

// SyntaxError describes where a body is malformed. It wraps ErrMalformed.
// Msg never contains body content, only a description.
type SyntaxError struct {
	Format Format // format being read; 0 when not known yet
	Offset int    // byte offset into the body
	Msg    string // what is wrong
}

// Error implements error.
func (e *SyntaxError) Error() string {
	p := "message: malformed body"
	if e.Format != 0 {
		p = "message: malformed " + e.Format.String()
	}
	return p + " at offset " + strconv.Itoa(e.Offset) + ": " + e.Msg
}

// Unwrap returns ErrMalformed.
func (e *SyntaxError) Unwrap() error { return ErrMalformed }

func checkFormat(f Format) error {
	if f != FormatXML && f != FormatJSON {
		return errors.New("message: invalid Format " + f.String())
	}
	return nil
}
