package keys

import (
	"strings"

	"github.com/go-mysql-org/go-mysql/schema"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"
)

// charsets maps MySQL character sets to decoders into UTF-8. The binlog holds
// a text column's bytes in the column's own charset, while the application
// (on a utf8mb4 connection) saw them as UTF-8 when it built the key.
var charsets = map[string]encoding.Encoding{
	"latin1":   charmap.Windows1252, // MySQL's latin1 is cp1252
	"latin2":   charmap.ISO8859_2,
	"latin5":   charmap.ISO8859_9,
	"latin7":   charmap.ISO8859_13,
	"cp1250":   charmap.Windows1250,
	"cp1251":   charmap.Windows1251,
	"cp1256":   charmap.Windows1256,
	"cp1257":   charmap.Windows1257,
	"cp850":    charmap.CodePage850,
	"cp852":    charmap.CodePage852,
	"cp866":    charmap.CodePage866,
	"koi8r":    charmap.KOI8R,
	"koi8u":    charmap.KOI8U,
	"greek":    charmap.ISO8859_7,
	"hebrew":   charmap.ISO8859_8,
	"macroman": charmap.Macintosh,
	"gbk":      simplifiedchinese.GBK,
	"gb2312":   simplifiedchinese.GBK, // GBK is a superset of GB2312's EUC-CN form
	"gb18030":  simplifiedchinese.GB18030,
	"big5":     traditionalchinese.Big5,
	"sjis":     japanese.ShiftJIS,
	"cp932":    japanese.ShiftJIS,
	"ujis":     japanese.EUCJP,
	"eucjpms":  japanese.EUCJP,
	"euckr":    korean.EUCKR,
}

// columnDecoder returns the decoder for a text column whose charset is not
// UTF-8-compatible, nil when its bytes are already what the app sees, and
// unknown=true for a charset we cannot convert (its bytes are used as-is).
func columnDecoder(c *schema.TableColumn) (dec encoding.Encoding, charset string, unknown bool) {
	if c.Type != schema.TYPE_STRING || c.Collation == "" {
		return nil, "", false
	}
	charset, _, _ = strings.Cut(strings.ToLower(c.Collation), "_")
	switch charset {
	case "utf8", "utf8mb3", "utf8mb4", "binary", "ascii":
		return nil, charset, false
	}
	if e, ok := charsets[charset]; ok {
		return e, charset, false
	}
	return nil, charset, true
}
