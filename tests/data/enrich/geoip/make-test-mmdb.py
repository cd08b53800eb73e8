# Builds test.mmdb, the GeoIP fixture of tests/integration/enrich.rs, with the PyPI package
# mmdb-writer (pip install mmdb-writer). Data written for captriage: documentation ranges only,
# in the GeoLite2 Country and ASN record shapes.
from mmdb_writer import MMDBWriter
from netaddr import IPSet

w = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="captriage-Test",
               description="captriage GeoIP test data", int_type="u32")
w.insert_network(IPSet(["192.0.2.0/24"]), {
    "country": {"iso_code": "FR", "names": {"en": "France"}},
    "autonomous_system_number": 64500,
    "autonomous_system_organization": "Example AS",
})
w.insert_network(IPSet(["2001:db8::/32"]), {"country": {"iso_code": "DE", "names": {"en": "Germany"}}})
w.insert_network(IPSet(["198.51.100.0/24"]), {
    "autonomous_system_number": 64501,
    "autonomous_system_organization": "Doc Net",
})
w.to_db_file("test.mmdb")
