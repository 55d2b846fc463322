"""Hostile input the attack tests share: what editors and readers may type at the site."""

# Each payload is meant to be stored and shown as text, or refused with a clear 4xx.
PAYLOADS = {
    "script": "<script>alert('xss')</script>",
    "img-onerror": '"><img src=x onerror=alert(1)>',
    "svg-onload": "'><svg/onload=alert(1)>",
    "attr-break": '" autofocus onfocus=alert(1) x="',
    "hx-get": '<div hx-get="/evil" hx-trigger="load" hx-target="body">x</div>',
    "hx-on": '<button hx-on:click="alert(1)" hx-on::load="alert(2)">b</button>',
    "js-url": "javascript:alert(1)",
    "sql": "'; DROP TABLE articles; -- \" OR 1=1 --",
    "template": "{{ 7*191 }}{% print(7*191) %}${7*191}",
    "controls": "a\x01b\x07c\x1b[31md\x7fe\u202ef\u2028g",
    "style": "<style>body{display:none}</style><link rel=stylesheet href=//evil>",
    "iframe": '<iframe src="javascript:alert(1)"></iframe><object data="x.swf"></object>',
    "long": "长" * 5000,
}
# A picture address of the form our uploads have.
PICTURE = "/media/" + "ab" * 16 + ".png"
# Issue 14.1: an alt text that ends the tag early when attribute values are not escaped.
ROLE_FORM = "<form hx-post=/admin/users/3/role hx-trigger=load><input name=role value=admin></form>"
ESCALATION = f'<p><img alt="x>{ROLE_FORM}"></p>'
