def test_smoke(api_as, demo):
    c = api_as("nw_finance")
    for path in ["/api/v1/subscription-types", "/api/v1/summary", "/api/v1/clients", f"/api/v1/clients/{demo.acme.id}",
                 f"/api/v1/clients/{demo.acme.id}/sites", f"/api/v1/sites/{demo.lyon.id}", f"/api/v1/sites/{demo.lyon.id}/users",
                 "/api/v1/invoices", "/api/v1/audit-events?per_page=2"]:
        r = c.get(path)
        print(path, r.status_code, r.get_data(as_text=True)[:600])
    r = c.post("/api/v1/clients", json={"name": "New Co", "billing_cycle": "annual", "trial_days": 10}); print(r.status_code, r.get_json())
    cid = r.get_json()["id"]
    r = c.patch(f"/api/v1/clients/{cid}", json={"name": "New Co 2", "billing_cycle": "monthly"}); print(r.status_code, r.get_json())
    r = c.post(f"/api/v1/clients/{cid}/sites", json={"name": "HQ"}); print(r.status_code, r.get_json())
    sid = r.get_json()["id"]
    r = c.put(f"/api/v1/sites/{sid}/allocations/essentials", json={"allocated": 2}); print(r.status_code, r.get_json())
    r = c.put(f"/api/v1/sites/{demo.lyon.id}/allocations/essentials", json={"allocated": 7}); print(r.status_code, r.get_json())
    r = c.put(f"/api/v1/sites/{demo.lyon.id}/allocations/essentials", json={"allocated": 1}); print(r.status_code, r.get_json())
    r = c.post(f"/api/v1/sites/{sid}/users", json={"email": "x@y.com", "name": "X", "subscription_type": "essentials"}, headers={"Idempotency-Key": "k1"}); print(r.status_code, r.get_json())
    r = c.post(f"/api/v1/sites/{sid}/users", json={"email": "x@y.com", "name": "X", "subscription_type": "essentials"}, headers={"Idempotency-Key": "k1"}); print(r.status_code, r.headers.get("Idempotent-Replayed"), r.get_json())
    r = c.post(f"/api/v1/sites/{sid}/users", json={"email": "x2@y.com", "name": "X", "subscription_type": "essentials"}, headers={"Idempotency-Key": "k1"}); print(r.status_code, r.get_json())
    uid = r.get_json() and 0
    r = c.post(f"/api/v1/clients/{cid}/sync-seats"); print(r.status_code, r.get_json())
    r = c.get("/api/v1/invoices"); print(r.status_code, str(r.get_json())[:800])
    r = c.get("/api/v1/audit-events?per_page=3&since=2020-01-01T00:00:00Z"); print(r.status_code, str(r.get_json())[:800])
