package http1

import "sync"

// Head buffers and field slices beyond a Space come from pools in a few
// size classes and go back when a head is released, so that memory a
// hostile head needed is shared by everyone afterwards instead of staying
// with its connection.

var bufClasses = [...]int{4 << 10, 16 << 10, MaxHeadBytes}

var bufPools [len(bufClasses)]sync.Pool

// fieldClasses end with the most fields a head within MaxHeadBytes can
// have (the shortest field line, "a:\r\n", is 4 bytes).
var fieldClasses = [...]int{32, 512, MaxHeadBytes / 4}

var fieldPools [len(fieldClasses)]sync.Pool

// growBuf returns a pooled buffer holding buf with room for need bytes,
// and returns the old one to its pool.
func growBuf(buf []byte, bufp *[]byte, need int) ([]byte, *[]byte) {
	c := 0
	for c < len(bufClasses)-1 && bufClasses[c] < need {
		c++
	}
	p, _ := bufPools[c].Get().(*[]byte)
	if p == nil {
		b := make([]byte, 0, bufClasses[c])
		p = &b
	}
	nb := append((*p)[:0], buf...)
	if bufp != nil {
		putBuf(bufp, buf)
	}
	return nb, p
}

func putBuf(p *[]byte, buf []byte) {
	for c, n := range bufClasses {
		if cap(buf) == n {
			*p = buf[:0]
			bufPools[c].Put(p)
			return
		}
	}
}

// growFields returns a pooled field slice holding fs with room for one
// more, and returns the old one to its pool.
func growFields(fs []Field, fsp *[]Field) ([]Field, *[]Field) {
	c := 0
	for c < len(fieldClasses)-1 && fieldClasses[c] <= len(fs) {
		c++
	}
	p, _ := fieldPools[c].Get().(*[]Field)
	if p == nil {
		f := make([]Field, 0, fieldClasses[c])
		p = &f
	}
	nf := append((*p)[:0], fs...)
	if fsp != nil {
		putFields(fsp, fs)
	}
	return nf, p
}

func putFields(p *[]Field, fs []Field) {
	for c, n := range fieldClasses {
		if cap(fs) == n {
			*p = fs[:0]
			fieldPools[c].Put(p)
			return
		}
	}
}
