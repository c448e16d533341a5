package core

import (
	"fmt"
	"path/filepath"
	"strings"
)

// dumpTable renders every frame of every segment file (debugging aid for
// failing crash tests).
func dumpTable(fsys FS, dir string) string {
	var sb strings.Builder
	names, _ := fsys.ReadDir(dir)
	for _, n := range names {
		f, err := fsys.OpenRW(filepath.Join(dir, n))
		if err != nil {
			continue
		}
		size, _ := f.Size()
		data := make([]byte, size)
		_, _ = f.ReadAt(data, 0)
		fmt.Fprintf(&sb, "%s (%d bytes)\n", n, size)
		off := 0
		for off < len(data) {
			fr, st := decodeFrame(data[off:])
			if st != frameOK {
				fmt.Fprintf(&sb, "  %6d status %d\n", off, st)
				break
			}
			switch fr.typ {
			case recRow:
				fmt.Fprintf(&sb, "  %6d row %d %q\n", off, leUint64(fr.body), fr.body[8:])
			case recRemove:
				var ids []uint64
				for i := 0; i < len(fr.body); i += 8 {
					ids = append(ids, leUint64(fr.body[i:]))
				}
				fmt.Fprintf(&sb, "  %6d remove %v\n", off, ids)
			case recCommit:
				c, _ := decodeCommit(fr.body)
				fmt.Fprintf(&sb, "  %6d commit %d\n", off, c.n)
			case recSegment:
				h, _ := decodeSegmentHeader(fr.body)
				fmt.Fprintf(&sb, "  %6d segment %+v\n", off, h)
			case recState:
				st := decodeState(fr.body)
				fmt.Fprintf(&sb, "  %6d state next=%d prev=%d\n", off, st.nextRowID, st.prevCommits)
			default:
				fmt.Fprintf(&sb, "  %6d type %d\n", off, fr.typ)
			}
			off += fr.size
		}
	}
	return sb.String()
}
