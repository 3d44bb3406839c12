"""Short names for the demo logins (DESIGN.md section 7), shared by the access matrices."""

LOGINS = {
    "operator": "operator@portal.example",
    "nw_admin": "admin@northwind.example",
    "nw_finance": "finance@northwind.example",
    "nw_support": "support@northwind.example",
    "acme_admin": "admin@acme.example",
    "acme_accountant": "accountant@acme.example",
    "acme_frontdesk": "frontdesk@acme.example",
    "globex_admin": "admin@globex.example",
    "sw_admin": "admin@southwind.example",
    "initech_admin": "admin@initech.example",
}
