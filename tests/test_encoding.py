"""decode_html: the order of evidence (BOM, HTTP, meta, detection) and legacy encodings."""

from __future__ import annotations

import codecs

import pytest

from crawler.encoding import (
    charset_from_content_type,
    decode_html,
    kind_from_content_type,
    meta_charset,
    normalize_charset,
    sniff_kind,
)

WESTERN = "<p>Café – “Pro” plan, €12 · naïve résumé, déjà vu à Zürich</p>"
JAPANESE = "<p>価格比較：月額 1,200円 「ツール」の評価とレビュー</p>"


@pytest.mark.parametrize(
    ("label", "codec"),
    [
        ("Shift_JIS", "cp932"),
        ("sjis", "cp932"),
        ("ISO-8859-1", "cp1252"),
        ("us-ascii", "cp1252"),
        ("windows-1252", "cp1252"),
        ('"UTF-8"', "utf-8"),
        ("utf8", "utf-8"),
        ("euc-jp", "euc_jp"),
        ("no-such-charset", None),
        ("utf-16", None),  # no byte order given: not trusted
        ("base64", None),  # a codec, but not a text encoding
    ],
)
def test_labels_map_like_browsers(label: str, codec: str | None) -> None:
    assert normalize_charset(label) == codec


def test_charset_from_content_type() -> None:
    assert charset_from_content_type("text/html; charset=Shift_JIS") == "cp932"
    assert charset_from_content_type('text/html;charset="iso-8859-1"') == "cp1252"
    assert charset_from_content_type("text/html") is None
    assert charset_from_content_type(None) is None
    assert charset_from_content_type("text/html; charset=bogus") is None


def test_meta_charset_forms() -> None:
    assert meta_charset(b'<html><head><meta charset="shift_jis">') == "cp932"
    assert meta_charset(b"<meta charset=windows-1252>") == "cp1252"
    http_equiv = b'<meta http-equiv="Content-Type" content="text/html; charset=ISO-8859-1">'
    assert meta_charset(http_equiv) == "cp1252"
    assert meta_charset(b'<meta charset="utf-16">') == "utf-8"  # ASCII bytes are not UTF-16
    assert meta_charset(b"<p>charset=utf-8 in text, not a meta</p>") is None


def test_meta_charset_only_in_first_4_kb() -> None:
    late = b"<html>" + b" " * 5000 + b'<meta charset="shift_jis">'
    assert meta_charset(late) is None


def test_meta_scan_is_linear_on_hostile_input() -> None:
    hostile = b"<meta " + b"a" * 4000  # no '>' and no charset: must not backtrack badly
    assert meta_charset(hostile * 10) is None


@pytest.mark.parametrize(("text", "codec"), [(WESTERN, "cp1252"), (JAPANESE, "cp932")])
def test_http_charset_wins(text: str, codec: str) -> None:
    body = text.encode(codec)
    decoded, used = decode_html(body, f"text/html; charset={codec}")
    assert (decoded, used) == (text, codec)


def test_http_charset_beats_meta() -> None:
    html = '<meta charset="utf-8">' + WESTERN
    decoded, used = decode_html(html.encode("cp1252"), "text/html; charset=windows-1252")
    assert (decoded, used) == (html, "cp1252")


@pytest.mark.parametrize(
    ("text", "label", "codec"),
    [(WESTERN, "windows-1252", "cp1252"), (JAPANESE, "Shift_JIS", "cp932")],
)
def test_meta_charset_without_http_charset(text: str, label: str, codec: str) -> None:
    html = f'<html><head><meta charset="{label}"></head><body>{text}</body></html>'
    decoded, used = decode_html(html.encode(codec), "text/html")
    assert (decoded, used) == (html, codec)


@pytest.mark.parametrize(
    ("bom", "codec"),
    [(codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")],
)
def test_byte_order_mark_when_nothing_is_declared(bom: bytes, codec: str) -> None:
    html = "<p>" + WESTERN + JAPANESE + "</p>"
    decoded, used = decode_html(bom + html.encode(codec), None)
    assert (decoded, used) == (html, codec)  # the BOM itself is not part of the text


BOMS = [
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
]


@pytest.mark.parametrize(("bom", "codec"), BOMS)
@pytest.mark.parametrize(
    "content_type",
    ["text/html; charset=iso-8859-1", "text/html; charset=utf-8", "text/html; charset=shift_jis"],
)
def test_byte_order_mark_beats_the_http_charset(bom: bytes, codec: str, content_type: str) -> None:
    # HTML standard: the BOM decides, whatever the server says (a UTF-8 page with a BOM
    # served as iso-8859-1 used to come out as mojibake).
    html = "<p>" + WESTERN + JAPANESE + "</p>"
    decoded, used = decode_html(bom + html.encode(codec), content_type)
    assert (decoded, used) == (html, codec)


@pytest.mark.parametrize(("bom", "codec"), BOMS)
def test_byte_order_mark_beats_meta(bom: bytes, codec: str) -> None:
    html = '<meta charset="windows-1252"><p>' + WESTERN + "</p>"
    decoded, used = decode_html(bom + html.encode(codec), "text/html")
    assert (decoded, used) == (html, codec)


@pytest.mark.parametrize(
    ("body", "content_type", "codec"),
    [
        (b'<meta charset="utf-16"><p>x</p>', "text/html", "utf-8"),  # w3lib says utf-16-be
        (b"<p>x</p>", "text/html; charset=utf-16", "utf-8"),  # no BOM: not trusted
        (b"<p>x</p>", "text/html; charset=base64", "utf-8"),  # w3lib raises LookupError
    ],
)
def test_where_the_standard_and_w3lib_differ(body: bytes, content_type: str, codec: str) -> None:
    assert decode_html(body, content_type) == (body.decode(), codec)


@pytest.mark.parametrize(("text", "codec"), [(WESTERN, "cp1252"), (JAPANESE, "cp932")])
def test_detection_of_undeclared_legacy_pages(text: str, codec: str) -> None:
    body = ("<html><body>" + text * 3 + "</body></html>").encode(codec)
    decoded, used = decode_html(body, "text/html")
    assert used == codec
    assert text in decoded


def test_undeclared_utf8_is_detected_cheaply() -> None:
    decoded, used = decode_html((WESTERN + JAPANESE).encode("utf-8"), None)
    assert (decoded, used) == (WESTERN + JAPANESE, "utf-8")


def test_wrong_declaration_replaces_rather_than_raises() -> None:
    decoded, used = decode_html(b"<p>\xff\xfe\xfa broken</p>", "text/html; charset=utf-8")
    assert used == "utf-8"
    assert "\ufffd" in decoded and "broken" in decoded


@pytest.mark.parametrize(
    ("content_type", "hint", "kind"),
    [
        ("text/html; charset=utf-8", "html", "html"),
        ("application/xhtml+xml", "html", "html"),
        ("application/xml", "html", "other"),
        ("application/xml", "sitemap", "sitemap"),
        ("application/x-gzip", "sitemap", "sitemap"),
        ("text/html", "sitemap", "sniff"),
        (None, "html", "sniff"),
        ("application/octet-stream", "html", "sniff"),
        ("application/pdf", "html", "other"),
        ("image/png", "sitemap", "other"),
    ],
)
def test_kind_from_content_type(content_type: str | None, hint: str, kind: str) -> None:
    assert kind_from_content_type(content_type, hint) == kind


@pytest.mark.parametrize(
    ("body", "hint", "kind"),
    [
        (b"\xef\xbb\xbf  <!DOCTYPE html><html>", "html", "html"),
        (b"\n<html lang=en>", "sitemap", "html"),
        (b'<?xml version="1.0"?><urlset>', "sitemap", "sitemap"),
        (b'<?xml version="1.0"?><urlset>', "html", "other"),
        (b"\x1f\x8b\x08\x00", "sitemap", "sitemap"),
        (b"\x1f\x8b\x08\x00", "html", "other"),
        (b"%PDF-1.7", "html", "other"),
        (b"", "html", "other"),
    ],
)
def test_sniff_kind(body: bytes, hint: str, kind: str) -> None:
    assert sniff_kind(body, hint) == kind
