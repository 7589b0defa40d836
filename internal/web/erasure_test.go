package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/web"
)

// DELETE /api/v1/customers/{id} takes an admin, erases the customer (its
// profile answers under the pseudonym only), and is audited under the
// pseudonym, never the id.
func TestEraseCustomer(t *testing.T) {
	e := newAPIEnv(t, web.Config{})
	viewer, _ := e.token(t, "look", store.RoleViewer)
	e.want(t, req{method: "DELETE", path: "/api/v1/customers/alice", header: bearer(viewer)}, http.StatusForbidden)
	body := e.want(t, req{method: "DELETE", path: "/api/v1/customers/alice", header: bearer(e.admin)}, http.StatusOK)
	var er store.Erasure
	if err := json.Unmarshal([]byte(body), &er); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(er.Pseudonym, "erased-") || er.Rows["customers"] != 1 || er.Again || strings.Contains(body, "alice") {
		t.Fatalf("erasure = %s", body)
	}
	e.want(t, req{method: "GET", path: "/api/v1/customers/alice", header: bearer(e.admin)}, http.StatusNotFound)
	e.want(t, req{method: "GET", path: "/api/v1/customers/" + er.Pseudonym, header: bearer(e.admin)}, http.StatusOK)
	entries, err := e.st.AuditEntries(context.Background(), store.AuditFilter{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, a := range entries {
		if a.Action == "customer.erase" {
			found = true
			if a.Target != "customer:"+er.Pseudonym || strings.Contains(string(a.After), "alice") || !strings.Contains(a.Actor, "ops") {
				t.Fatalf("audit entry %+v", a)
			}
		}
	}
	if !found {
		t.Fatal("the erasure is not in the audit trail")
	}
	again := e.want(t, req{method: "DELETE", path: "/api/v1/customers/alice", header: bearer(e.admin)}, http.StatusOK)
	if !strings.Contains(again, `"again":true`) || !strings.Contains(again, er.Pseudonym) {
		t.Fatalf("erasing again = %s", again)
	}
	long := strings.Repeat("x", web.MaxCustomerIDBytes+1)
	e.want(t, req{method: "DELETE", path: "/api/v1/customers/" + long, header: bearer(e.admin)}, http.StatusBadRequest)
}
