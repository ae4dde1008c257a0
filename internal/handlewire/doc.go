// Package handlewire writes and parses one semlock.Handle in the fields of
// a POOLRUN_SEMLOCKS entry, KEY,ID,KIND,MAX,UNDO,CREATOR,TOKEN[,SETNAME]
// (the part after "NAME="): the one copy of that format, shared by
// rebuild, whose Encode and Decode write and read whole entries around
// it, and by spawn, whose tracker is told of each private set in the same
// form. The format itself is documented, and versioned, in rebuild.
//
// It is internal: the wire format of a whole value is rebuild's API; the
// per-handle part is a detail of it.
package handlewire
