from recommendations.picture import _referral_label


def test_a_referral_reads_as_name_and_address():
    assert (
        _referral_label({"name": "Sam Ortiz", "email": "sam@acme.com", "contact_id": 7}) == "Sam Ortiz <sam@acme.com>"
    )
    assert _referral_label({"name": "", "email": "sam@acme.com"}) == "sam@acme.com"
    assert _referral_label({"name": "Sam Ortiz"}) == "Sam Ortiz"
    assert _referral_label(None) == ""
