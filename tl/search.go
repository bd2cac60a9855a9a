package tl

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"unicode"
)

// Match is one Search hit.
type Match struct {
	Name  string
	Score int // higher is better
}

// Search ranks method names for a free-text query, as the search box of
// Telethon's documentation does: "send message" finds messages.sendMessage
// first, then the other methods whose names contain both words. Exact and
// prefix matches of the whole name or of the part after the namespace rank
// highest, then substrings, then all query words, then a fuzzy subsequence.
// At most limit matches are returned (all if limit <= 0).
func Search(query string, limit int) []Match {
	q := normalize(query)
	words := strings.Fields(strings.ToLower(splitCamel(query)))
	if q == "" {
		return nil
	}
	var out []Match
	for _, d := range Methods() {
		if s := score(d.Name, q, words); s > 0 {
			out = append(out, Match{Name: d.Name, Score: s})
		}
	}
	slices.SortStableFunc(out, func(a, b Match) int {
		if c := cmp.Compare(b.Score, a.Score); c != 0 {
			return c
		}
		return cmp.Compare(len(a.Name), len(b.Name))
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out
}

func score(name, q string, words []string) int {
	full := normalize(name)
	short := full
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		short = normalize(name[i+1:])
	}
	switch {
	case full == q:
		return 1000
	case short == q:
		return 900
	case strings.HasPrefix(short, q):
		return 700 - (len(short) - len(q))
	case strings.HasPrefix(full, q):
		return 650 - (len(full) - len(q))
	case strings.Contains(full, q):
		return 500 - strings.Index(full, q)
	}
	if len(words) > 1 {
		all := true
		for _, w := range words {
			if !strings.Contains(full, w) {
				all = false
				break
			}
		}
		if all {
			return 300
		}
	}
	if gaps, ok := subsequence(full, q); ok && len(q) >= 3 {
		return max(1, 100-gaps)
	}
	return 0
}

// subsequence reports whether q's letters appear in s in order, and how many
// letters of s were skipped between the first and last match.
func subsequence(s, q string) (int, bool) {
	i, start, gaps := 0, -1, 0
	for j := 0; j < len(s) && i < len(q); j++ {
		if s[j] == q[i] {
			if start < 0 {
				start = j
			}
			i++
		} else if start >= 0 {
			gaps++
		}
	}
	return gaps, i == len(q)
}

func normalize(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// splitCamel turns "sendMessage" into "send Message" and punctuation into
// spaces, so queries may be written either way.
func splitCamel(s string) string {
	var b strings.Builder
	prev := rune(0)
	for _, r := range s {
		switch {
		case r == '.' || r == '_' || r == '-':
			b.WriteByte(' ')
		case unicode.IsUpper(r) && unicode.IsLower(prev):
			b.WriteByte(' ')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
		prev = r
	}
	return b.String()
}

// suggest returns up to n method names close to a mistyped one: Search hits
// first, else the smallest edit distances.
func suggest(name string, n int) []string {
	var out []string
	for _, m := range Search(name, n) {
		out = append(out, m.Name)
	}
	if len(out) > 0 {
		return out
	}
	type cand struct {
		name string
		d    int
	}
	q := strings.ToLower(name)
	var cs []cand
	for _, d := range Methods() {
		cs = append(cs, cand{d.Name, levenshtein(q, strings.ToLower(d.Name))})
	}
	slices.SortStableFunc(cs, func(a, b cand) int { return cmp.Compare(a.d, b.d) })
	for _, c := range cs[:min(n, len(cs))] {
		if c.d <= max(3, len(q)/3) {
			out = append(out, c.name)
		}
	}
	return out
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}

// Description is what Describe returns about a method.
type Description struct {
	Name       string
	ID         uint32
	Result     string
	Doc        string
	BotCanUse  bool
	Params     []ParamDescription
	DocsLayer  int // layer of the documentation text; the schema is Layer
	SchemaText string
}

// ParamDescription is one parameter as Describe lists it. Flags words are
// omitted: the codec sets them from the optional fields present.
type ParamDescription struct {
	Name     string
	Type     string
	Optional bool
	Doc      string
}

// Describe lists a method's parameters, their types and which are optional,
// and its result type.
func Describe(method string) (*Description, error) {
	d, err := Method(method)
	if err != nil {
		return nil, err
	}
	desc := &Description{Name: d.Name, ID: d.ID, Result: d.Type, Doc: d.Doc, BotCanUse: d.BotCanUse, DocsLayer: docsLayer}
	docs := paramDocs[d.Name]
	var sig strings.Builder
	fmt.Fprintf(&sig, "%s#%08x", d.Name, d.ID)
	for _, p := range d.Params {
		t := p.Type
		if p.Optional() {
			t = fmt.Sprintf("%s.%d?%s", p.Flag, p.Bit, p.Type)
		}
		fmt.Fprintf(&sig, " %s:%s", p.Name, t)
		if p.IsFlags() {
			continue
		}
		desc.Params = append(desc.Params, ParamDescription{Name: p.Name, Type: p.Type, Optional: p.Optional(), Doc: docs[p.Name]})
	}
	fmt.Fprintf(&sig, " = %s;", d.Type)
	desc.SchemaText = sig.String()
	return desc, nil
}

// String renders the description as text for a terminal.
func (d *Description) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n", d.SchemaText)
	if d.Doc != "" {
		fmt.Fprintf(&b, "\n%s\n", d.Doc)
	}
	b.WriteString("\nParameters:\n")
	if len(d.Params) == 0 {
		b.WriteString("  (none)\n")
	}
	for _, p := range d.Params {
		opt := "required"
		if p.Optional {
			opt = "optional"
		}
		fmt.Fprintf(&b, "  %-24s %-28s %s", p.Name, p.Type, opt)
		if p.Doc != "" {
			fmt.Fprintf(&b, "  %s", p.Doc)
		}
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "\nResult: %s\n", d.Result)
	return b.String()
}
