package message

// lister is the slot of a list: fields_gen.go returns a list[T, *T]
// wrapping a pointer to the slice, so that decoding and encoding need no
// per-type switch. It is pointer-shaped, so boxing it does not allocate,
// and its methods take no decoder or encoder, which would then escape.
type lister interface {
	len() int
	item(i int) fielder
	// grow appends a zero item and returns it.
	grow() fielder
}

type list[T any, PT interface {
	*T
	fielder
}] struct{ p *[]T }

func (l list[T, PT]) len() int           { return len(*l.p) }
func (l list[T, PT]) item(i int) fielder { return PT(&(*l.p)[i]) }

func (l list[T, PT]) grow() fielder {
	var zero T
	*l.p = append(*l.p, zero)
	return PT(&(*l.p)[len(*l.p)-1])
}
