package web

import (
	"fmt"
	"net/http"
	"unicode/utf8"

	"github.com/shopstream/shopstream/internal/store"
)

// RegisterErasure adds DELETE /api/v1/customers/{id} (admin): it erases
// the customer's personal data across the store (store.Privacy), keeping
// the totals, records the erasure, and answers with it. The audit trail
// names the customer by its pseudonym, never by its id. Processors read
// the erasure list every few seconds; the store pseudonymises whatever is
// written after the erasure commits in any case (store.Batch.ErasedUpTo).
func RegisterErasure(s *Server, p store.Privacy) {
	h := &erasureAPI{p: p}
	s.Handle("DELETE /api/v1/customers/{id}", http.HandlerFunc(h.erase))
}

type erasureAPI struct {
	p store.Privacy
}

// MaxCustomerIDBytes bounds the id an erasure takes.
const MaxCustomerIDBytes = 256

// ValidateCustomerID checks the id an erasure is asked for.
func ValidateCustomerID(id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%w: the customer id is empty", ErrBadRequest)
	case len(id) > MaxCustomerIDBytes:
		return fmt.Errorf("%w: the customer id is %d bytes long, at most %d", ErrBadRequest, len(id), MaxCustomerIDBytes)
	case !utf8.ValidString(id):
		return fmt.Errorf("%w: the customer id is not UTF-8", ErrBadRequest)
	}
	return nil
}

func (h *erasureAPI) erase(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := ValidateCustomerID(id); err != nil {
		WriteError(w, err)
		return
	}
	actor := "unknown"
	if p, ok := PrincipalFrom(r.Context()); ok {
		actor = p.Actor
	}
	e, err := h.p.EraseCustomer(r.Context(), id, actor)
	if err != nil {
		WriteError(w, fmt.Errorf("erasing a customer: %w", err))
		return
	}
	Audit(r, "customer.erase", "customer:"+e.Pseudonym, nil, e)
	WriteJSON(w, http.StatusOK, e)
}
