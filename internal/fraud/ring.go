package fraud

import (
	"fmt"
	"slices"
	"strings"
)

// Link says that an account used an entity (a device, a card, a shipping
// address) within the window.
type Link struct {
	Customer string
	Entity   string
}

// Ring is a connected component of accounts joined by shared entities:
// accounts that used a common device, card or shipping address, directly
// or through each other.
type Ring struct {
	// Members are the accounts, sorted.
	Members []string
	// Entities are the entities that join them, sorted: each used by at
	// least two of the members.
	Entities []string
}

// Key names the ring stably while it grows: its first entity. A ring that
// merges with another takes the smaller key.
func (r Ring) Key() string { return r.Entities[0] }

// Reason says what the ring is, for people: "ring of 3 accounts sharing
// device d-123: c1, c2, c3", naming up to three shared entities and up to
// twelve members.
func (r Ring) Reason() string {
	var b strings.Builder
	fmt.Fprintf(&b, "ring of %d accounts sharing ", len(r.Members))
	n := min(len(r.Entities), 3)
	for i := range n {
		if i > 0 {
			if i == n-1 && len(r.Entities) == n {
				b.WriteString(" and ")
			} else {
				b.WriteString(", ")
			}
		}
		kind, id, _ := strings.Cut(r.Entities[i], ":")
		if kind == EntityAddress {
			kind = "shipping address"
		}
		b.WriteString(kind + " " + id)
	}
	if more := len(r.Entities) - n; more > 0 {
		fmt.Fprintf(&b, " and %d more", more)
	}
	m := min(len(r.Members), 12)
	b.WriteString(": " + strings.Join(r.Members[:m], ", "))
	if more := len(r.Members) - m; more > 0 {
		fmt.Fprintf(&b, " and %d more", more)
	}
	return b.String()
}

// DetectRings joins the accounts of links into connected components over
// shared entities (union-find with path halving and union by size) and
// returns those of at least minMembers accounts, ordered by key. Only the
// entities linked to two or more accounts join anything and are listed.
func DetectRings(links []Link, minMembers int) []Ring {
	idx := map[string]int{}
	var parent, size []int
	node := func(k string) int {
		if i, ok := idx[k]; ok {
			return i
		}
		i := len(parent)
		idx[k] = i
		parent = append(parent, i)
		size = append(size, 1)
		return i
	}
	find := func(x int) int {
		for parent[x] != x {
			parent[x] = parent[parent[x]]
			x = parent[x]
		}
		return x
	}
	users := map[string]map[string]struct{}{}
	for _, l := range links {
		a, b := find(node("c\x00"+l.Customer)), find(node("e\x00"+l.Entity))
		if a != b {
			if size[a] < size[b] {
				a, b = b, a
			}
			parent[b] = a
			size[a] += size[b]
		}
		u := users[l.Entity]
		if u == nil {
			u = map[string]struct{}{}
			users[l.Entity] = u
		}
		u[l.Customer] = struct{}{}
	}
	comps := map[int]*Ring{}
	for k, i := range idx {
		r := find(i)
		c := comps[r]
		if c == nil {
			c = &Ring{}
			comps[r] = c
		}
		switch k[0] {
		case 'c':
			c.Members = append(c.Members, k[2:])
		case 'e':
			if len(users[k[2:]]) >= 2 {
				c.Entities = append(c.Entities, k[2:])
			}
		}
	}
	var out []Ring
	for _, c := range comps {
		if len(c.Members) < max(minMembers, 2) || len(c.Entities) == 0 {
			continue
		}
		slices.Sort(c.Members)
		slices.Sort(c.Entities)
		out = append(out, *c)
	}
	slices.SortFunc(out, func(a, b Ring) int { return strings.Compare(a.Key(), b.Key()) })
	return out
}

// MergeRings joins rings that share a member into one: connected
// components over the rings' accounts (union-find), with the union of
// their members and entities. The entity stage finds rings per partition
// of its repartition topic, so accounts joined through entities owned by
// two partitions are stored as two rings, and one ring found on two
// partitions (by a device on one, a card on the other) twice; merged,
// they are the ring across partitions. from[i] are the indices of the
// rings merged[i] joins, ascending; merged rings come in the order of
// their first ring.
func MergeRings(rings []Ring) (merged []Ring, from [][]int) {
	parent := make([]int, len(rings))
	for i := range parent {
		parent[i] = i
	}
	find := func(x int) int {
		for parent[x] != x {
			parent[x] = parent[parent[x]]
			x = parent[x]
		}
		return x
	}
	// Joining each ring to the first that named the member keeps the
	// smallest index at the root: a component's root is its first ring.
	owner := map[string]int{}
	for i, r := range rings {
		for _, m := range r.Members {
			j, ok := owner[m]
			if !ok {
				owner[m] = i
				continue
			}
			a, b := find(i), find(j)
			if a > b {
				a, b = b, a
			}
			parent[b] = a
		}
	}
	at := map[int]int{}
	for i := range rings {
		root := find(i)
		k, ok := at[root]
		if !ok {
			k = len(from)
			at[root] = k
			from = append(from, nil)
		}
		from[k] = append(from[k], i)
	}
	merged = make([]Ring, len(from))
	for k, idx := range from {
		if len(idx) == 1 {
			merged[k] = rings[idx[0]]
			continue
		}
		var r Ring
		for _, i := range idx {
			r.Members = append(r.Members, rings[i].Members...)
			r.Entities = append(r.Entities, rings[i].Entities...)
		}
		slices.Sort(r.Members)
		slices.Sort(r.Entities)
		r.Members, r.Entities = slices.Compact(r.Members), slices.Compact(r.Entities)
		merged[k] = r
	}
	return merged, from
}
