#!/usr/bin/env python3
"""Builds SAML 2.0 responses for the AssumeRoleWithSAML tests, signed by signxml (an XML
signature library independent of Portcullis), and the forgeries a verifier must refuse.

Reads one JSON object on stdin and writes the base64 of the response on stdout; exit code 2
for a bad spec. Fields (all optional but "key" and "cert"):

  key, cert            PEM private key and certificate that sign
  issuer               default https://idp.example.com/saml
  destination          default https://signin.aws.amazon.com/saml
  recipient            default: destination
  audiences            default ["urn:amazon:webservices"]
  name_id, name_id_format
  attributes           {name: [values]}
  issue_instant, not_before, not_on_or_after, session_not_on_or_after   unix seconds
  response_id, assertion_id, status
  sign                 "assertion" (default), "response", "both", "none"
  algorithm            "rsa-sha256" (default) or "rsa-sha1"
  pretty               indent the document before signing
  attack               see ATTACKS
  other_key, other_cert   for resign_other_key (a self-signed certificate is made if absent)
  encrypt              {"to_key": PEM private key whose public half the assertion is encrypted
                       to, "content": "aes256-gcm" (default), "aes128-gcm", "aes128-cbc" or
                       "aes256-cbc", "key_transport": "rsa-oaep-mgf1p" (default),
                       "rsa-oaep-sha256" or "rsa-1_5"}: the (signed) assertion becomes a
                       saml:EncryptedAssertion (XML Encryption, built here with cryptography's
                       primitives)
"""

import base64
import copy
import datetime
import json
import os
import secrets
import sys
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml import SignatureMethod, DigestAlgorithm, XMLSigner

SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
DS = "http://www.w3.org/2000/09/xmldsig#"
XS = "http://www.w3.org/2001/XMLSchema"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
XENC = "http://www.w3.org/2001/04/xmlenc#"
XENC11 = "http://www.w3.org/2009/xmlenc11#"

ATTACKS = {
    "tamper_nameid": "the NameID text changed after signing",
    "tamper_attribute": "the RoleSessionName value changed after signing",
    "comment_in_nameid": "NameID signed whole, then split by a comment (still verifies); the "
    "subject is the whole text",
    "xsw1": "an unsigned evil assertion first, the signed original after it as a sibling",
    "xsw2": "the signed original hidden in the Response's Extensions, an evil one in its place",
    "xsw3": "an evil assertion with the same ID as the signed one, before it",
    "xsw_response": "an evil response wrapping the signed original response in Extensions",
    "resign_other_key": "signed by a key the metadata does not trust",
    "strip_signature": "the signature removed after signing",
    "two_assertions": "two assertions, each signed",
    "doctype": "a DOCTYPE with an internal entity used in the NameID",
}


def q(ns, local):
    return "{%s}%s" % (ns, local)


def stamp(unix):
    return datetime.datetime.fromtimestamp(unix, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.%f"
    )[:-3] + "Z"


def new_id():
    return "_" + secrets.token_hex(16)


def fail(message):
    print(message, file=sys.stderr)
    sys.exit(2)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def build_assertion(spec, now, name_id=None):
    assertion = etree.Element(
        q(SAML, "Assertion"), nsmap={"saml": SAML, "xs": XS, "xsi": XSI}
    )
    assertion.set("ID", spec.get("assertion_id") or new_id())
    assertion.set("Version", "2.0")
    assertion.set("IssueInstant", stamp(spec.get("issue_instant", now)))
    etree.SubElement(assertion, q(SAML, "Issuer")).text = spec.get(
        "issuer", "https://idp.example.com/saml"
    )
    # Where signxml puts an enveloped signature: right after Issuer, as the schema wants.
    etree.SubElement(assertion, q(DS, "Signature"), nsmap={"ds": DS}).set("Id", "placeholder")
    subject = etree.SubElement(assertion, q(SAML, "Subject"))
    nid = etree.SubElement(subject, q(SAML, "NameID"))
    nid.set(
        "Format",
        spec.get("name_id_format", "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"),
    )
    for field, attr in (("name_qualifier", "NameQualifier"), ("sp_name_qualifier", "SPNameQualifier")):
        if field in spec:
            nid.set(attr, spec[field])
    nid.text = name_id or spec.get("name_id", "alice@example.com")
    confirmation = etree.SubElement(subject, q(SAML, "SubjectConfirmation"))
    confirmation.set("Method", "urn:oasis:names:tc:SAML:2.0:cm:bearer")
    data = etree.SubElement(confirmation, q(SAML, "SubjectConfirmationData"))
    destination = spec.get("destination", "https://signin.aws.amazon.com/saml")
    data.set("Recipient", spec.get("recipient", destination))
    data.set("NotOnOrAfter", stamp(spec.get("not_on_or_after", now + 300)))
    conditions = etree.SubElement(assertion, q(SAML, "Conditions"))
    conditions.set("NotBefore", stamp(spec.get("not_before", now - 60)))
    conditions.set("NotOnOrAfter", stamp(spec.get("not_on_or_after", now + 300)))
    restriction = etree.SubElement(conditions, q(SAML, "AudienceRestriction"))
    for audience in spec.get("audiences", ["urn:amazon:webservices"]):
        etree.SubElement(restriction, q(SAML, "Audience")).text = audience
    authn = etree.SubElement(assertion, q(SAML, "AuthnStatement"))
    authn.set("AuthnInstant", stamp(spec.get("issue_instant", now)))
    authn.set("SessionIndex", new_id())
    if "session_not_on_or_after" in spec:
        authn.set("SessionNotOnOrAfter", stamp(spec["session_not_on_or_after"]))
    context = etree.SubElement(authn, q(SAML, "AuthnContext"))
    etree.SubElement(context, q(SAML, "AuthnContextClassRef")).text = (
        "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
    )
    attributes = spec.get("attributes", {})
    if attributes:
        statement = etree.SubElement(assertion, q(SAML, "AttributeStatement"))
        for name, values in attributes.items():
            attribute = etree.SubElement(statement, q(SAML, "Attribute"))
            attribute.set("Name", name)
            attribute.set("NameFormat", "urn:oasis:names:tc:SAML:2.0:attrname-format:uri")
            for value in values:
                v = etree.SubElement(attribute, q(SAML, "AttributeValue"))
                v.set(q(XSI, "type"), "xs:string")
                v.text = value
    return assertion


def build_response(spec, now, assertion):
    response = etree.Element(q(SAMLP, "Response"), nsmap={"samlp": SAMLP, "saml": SAML})
    response.set("ID", spec.get("response_id") or new_id())
    response.set("Version", "2.0")
    response.set("IssueInstant", stamp(spec.get("issue_instant", now)))
    response.set("Destination", spec.get("destination", "https://signin.aws.amazon.com/saml"))
    etree.SubElement(response, q(SAML, "Issuer")).text = spec.get(
        "issuer", "https://idp.example.com/saml"
    )
    etree.SubElement(response, q(DS, "Signature"), nsmap={"ds": DS}).set("Id", "placeholder")
    status = etree.SubElement(response, q(SAMLP, "Status"))
    etree.SubElement(status, q(SAMLP, "StatusCode")).set(
        "Value", spec.get("status", "urn:oasis:names:tc:SAML:2.0:status:Success")
    )
    response.append(assertion)
    return response


def encrypt_assertion(assertion, options):
    """The assertion as a saml:EncryptedAssertion: a random content key encrypts the
    serialized element (AES-GCM: IV then ciphertext and tag; AES-CBC: IV then ciphertext,
    padded as XML Encryption pads), and RSA encrypts the content key in an EncryptedKey in
    the data's KeyInfo."""
    public = serialization.load_pem_private_key(read(options["to_key"]), password=None).public_key()
    plain = etree.tostring(assertion)
    content = options.get("content", "aes256-gcm")
    if content not in ("aes128-gcm", "aes256-gcm", "aes128-cbc", "aes256-cbc"):
        fail("unknown content encryption %r" % content)
    key = os.urandom(16 if "128" in content else 32)
    if content.endswith("gcm"):
        iv = os.urandom(12)
        value = iv + AESGCM(key).encrypt(iv, plain, None)
        content_uri = XENC11 + content
    else:
        iv = os.urandom(16)
        pad = 16 - len(plain) % 16
        padded = plain + os.urandom(pad - 1) + bytes([pad])
        encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
        value = iv + encryptor.update(padded) + encryptor.finalize()
        content_uri = XENC + content
    transport = options.get("key_transport", "rsa-oaep-mgf1p")
    if transport == "rsa-oaep-mgf1p":
        wrapped = public.encrypt(key, padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None))
        transport_uri, digest_uri, mgf_uri = XENC + "rsa-oaep-mgf1p", DS + "sha1", None
    elif transport == "rsa-oaep-sha256":
        wrapped = public.encrypt(key, padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None))
        transport_uri, digest_uri, mgf_uri = XENC11 + "rsa-oaep", XENC + "sha256", XENC11 + "mgf1sha256"
    elif transport == "rsa-1_5":
        wrapped = public.encrypt(key, padding.PKCS1v15())
        transport_uri, digest_uri, mgf_uri = XENC + "rsa-1_5", None, None
    else:
        fail("unknown key transport %r" % transport)
    sealed = etree.Element(q(SAML, "EncryptedAssertion"), nsmap={"saml": SAML})
    data = etree.SubElement(sealed, q(XENC, "EncryptedData"), nsmap={"xenc": XENC, "ds": DS, "xenc11": XENC11})
    data.set("Type", XENC + "Element")
    etree.SubElement(data, q(XENC, "EncryptionMethod")).set("Algorithm", content_uri)
    info = etree.SubElement(data, q(DS, "KeyInfo"))
    encrypted_key = etree.SubElement(info, q(XENC, "EncryptedKey"))
    method = etree.SubElement(encrypted_key, q(XENC, "EncryptionMethod"))
    method.set("Algorithm", transport_uri)
    if digest_uri:
        etree.SubElement(method, q(DS, "DigestMethod")).set("Algorithm", digest_uri)
    if mgf_uri:
        etree.SubElement(method, q(XENC11, "MGF")).set("Algorithm", mgf_uri)
    cipher = etree.SubElement(encrypted_key, q(XENC, "CipherData"))
    etree.SubElement(cipher, q(XENC, "CipherValue")).text = base64.b64encode(wrapped).decode()
    cipher = etree.SubElement(data, q(XENC, "CipherData"))
    etree.SubElement(cipher, q(XENC, "CipherValue")).text = base64.b64encode(value).decode()
    return sealed


def drop_placeholder(element):
    for sig in element.findall(q(DS, "Signature")):
        if sig.get("Id") == "placeholder":
            element.remove(sig)


class LegacySigner(XMLSigner):
    """signxml refuses SHA-1 by default; identity providers still send it, and AWS accepts it."""

    def check_deprecated_methods(self):
        pass


def sign(element, spec, key, cert):
    if spec.get("algorithm", "rsa-sha256") == "rsa-sha1":
        method, digest = SignatureMethod.RSA_SHA1, DigestAlgorithm.SHA1
    else:
        method, digest = SignatureMethod.RSA_SHA256, DigestAlgorithm.SHA256
    cls = LegacySigner if method == SignatureMethod.RSA_SHA1 else XMLSigner
    signer = cls(signature_algorithm=method, digest_algorithm=digest, c14n_algorithm=EXC_C14N)
    return signer.sign(
        element,
        key=key,
        cert=cert,
        reference_uri="#" + element.get("ID"),
        id_attribute="ID",
    )


def self_signed(key_pem):
    key = serialization.load_pem_private_key(key_pem, password=None)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "impostor.example.com")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def indent(element):
    etree.indent(element, space="  ")


def signed_document(spec, now, key, cert, name_id=None):
    """The response as lxml elements, signed as spec says (before any attack)."""
    mode = spec.get("sign", "assertion")
    if mode not in ("assertion", "response", "both", "none"):
        fail("sign must be assertion, response, both or none")
    assertion = build_assertion(spec, now, name_id)
    if spec.get("pretty"):
        indent(assertion)
    if mode in ("assertion", "both"):
        assertion = sign(assertion, spec, key, cert)
    else:
        drop_placeholder(assertion)
    if "encrypt" in spec:
        assertion = encrypt_assertion(assertion, spec["encrypt"])
    response = build_response(spec, now, assertion)
    if spec.get("pretty"):
        # Only the response's own layout: the assertion may be signed already.
        response.text = "\n  "
        for child in response:
            child.tail = "\n  "
        response[-1].tail = "\n"
    if mode in ("response", "both"):
        response = sign(response, spec, key, cert)
    else:
        drop_placeholder(response)
    return response


def the_assertion(response):
    return response.find(q(SAML, "Assertion"))


def evil_assertion(spec, now):
    evil = dict(spec)
    evil["name_id"] = "mallory@evil.example.com"
    evil["attributes"] = dict(spec.get("attributes", {}))
    evil["attributes"]["https://aws.amazon.com/SAML/Attributes/RoleSessionName"] = ["mallory"]
    assertion = build_assertion(evil, now)
    drop_placeholder(assertion)
    return assertion


def attack(response, spec, now, key, cert):
    name = spec.get("attack")
    if name is None:
        return etree.tostring(response, xml_declaration=spec.get("encoding_declaration", True), encoding="UTF-8")
    if name not in ATTACKS and name != "comment_in_nameid":
        fail("unknown attack %r (known: %s)" % (name, ", ".join(ATTACKS)))
    if name == "tamper_nameid":
        the_assertion(response).find(".//" + q(SAML, "NameID")).text = "mallory@evil.example.com"
    elif name == "tamper_attribute":
        for attribute in response.iter(q(SAML, "Attribute")):
            if attribute.get("Name").endswith("/RoleSessionName"):
                attribute.find(q(SAML, "AttributeValue")).text = "mallory"
    elif name == "comment_in_nameid":
        nid = the_assertion(response).find(".//" + q(SAML, "NameID"))
        whole = nid.text
        cut = whole.index(".evil.com") if ".evil.com" in whole else len(whole) // 2
        nid.text = whole[:cut]
        comment = etree.Comment("")
        comment.tail = whole[cut:]
        nid.append(comment)
    elif name == "xsw1":
        original = the_assertion(response)
        index = list(response).index(original)
        response.insert(index, evil_assertion(spec, now))
    elif name == "xsw2":
        original = the_assertion(response)
        index = list(response).index(original)
        response.remove(original)
        extensions = etree.Element(q(SAMLP, "Extensions"))
        extensions.append(original)
        # Extensions come right after Issuer (and the signature, when there is one).
        response.insert(1, extensions)
        response.insert(index + 1, evil_assertion(spec, now))
    elif name == "xsw3":
        original = the_assertion(response)
        evil = evil_assertion(spec, now)
        evil.set("ID", original.get("ID"))
        response.insert(list(response).index(original), evil)
    elif name == "xsw_response":
        evil_spec = dict(spec)
        evil_spec["sign"] = "none"
        evil = build_response(evil_spec, now, evil_assertion(spec, now))
        drop_placeholder(evil)
        extensions = etree.Element(q(SAMLP, "Extensions"))
        extensions.append(response)
        evil.insert(1, extensions)
        response = evil
    elif name == "resign_other_key":
        other_key = read(spec["other_key"]) if "other_key" in spec else None
        if other_key is None:
            other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        other_cert = read(spec["other_cert"]) if "other_cert" in spec else self_signed(other_key)
        resigned = dict(spec)
        del resigned["attack"]
        response = signed_document(resigned, now, other_key, other_cert)
    elif name == "strip_signature":
        for sig in list(response.iter(q(DS, "Signature"))):
            sig.getparent().remove(sig)
    elif name == "two_assertions":
        second = dict(spec)
        second.pop("attack")
        second["assertion_id"] = None
        other = signed_document(second, now, key, cert)
        response.append(the_assertion(other))
    elif name == "doctype":
        text = etree.tostring(response, encoding="unicode")
        nid = the_assertion(response).find(".//" + q(SAML, "NameID")).text
        text = text.replace(">" + nid + "<", ">&who;<", 1)
        doc = '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE samlp:Response [<!ENTITY who "%s">]>\n%s' % (
            nid,
            text,
        )
        return doc.encode("utf-8")
    return etree.tostring(response, xml_declaration=spec.get("encoding_declaration", True), encoding="UTF-8")


def build(spec):
    if "key" not in spec or "cert" not in spec:
        fail("key and cert are required")
    now = int(time.time())
    key, cert = read(spec["key"]), read(spec["cert"])
    name_id = None
    if spec.get("attack") == "comment_in_nameid":
        name_id = spec.get("name_id", "alice@example.com.evil.com")
    response = signed_document(spec, now, key, cert, name_id)
    return attack(response, spec, now, key, cert)


def self_check(key_path, cert_path):
    """Each signing mode verifies with signxml's own verifier; what signxml itself refuses."""
    from signxml import XMLVerifier, InvalidSignature

    cert = read(cert_path).decode()
    base = {
        "key": key_path,
        "cert": cert_path,
        "attributes": {"https://aws.amazon.com/SAML/Attributes/RoleSessionName": ["alice"]},
    }
    for mode in ("assertion", "response", "both"):
        for algorithm in ("rsa-sha256", "rsa-sha1"):
            xml = build(dict(base, sign=mode, algorithm=algorithm))
            root = etree.fromstring(xml)
            targets = []
            if mode in ("response", "both"):
                targets.append(root)
            if mode in ("assertion", "both"):
                targets.append(root.find(q(SAML, "Assertion")))
            for target in targets:
                verifier = XMLVerifier()
                config = None
                if algorithm == "rsa-sha1":
                    from signxml.verifier import SignatureConfiguration
                    config = SignatureConfiguration(
                        signature_methods=frozenset(SignatureMethod),
                        digest_algorithms=frozenset(DigestAlgorithm),
                    )
                kwargs = {"x509_cert": cert, "id_attribute": "ID"}
                if config is not None:
                    kwargs["expect_config"] = config
                verifier.verify(copy.deepcopy(target), **kwargs)
    # Attacks on the signed bytes that signxml's verifier refuses too.
    for name in ("tamper_nameid", "tamper_attribute", "strip_signature"):
        root = etree.fromstring(build(dict(base, attack=name)))
        try:
            XMLVerifier().verify(root.find(q(SAML, "Assertion")), x509_cert=cert, id_attribute="ID")
        except (InvalidSignature, Exception):
            continue
        raise SystemExit("signxml accepted %s" % name)
    print("self-check passed")


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--self-check":
        self_check(sys.argv[2], sys.argv[3])
        return
    try:
        spec = json.load(sys.stdin)
    except ValueError as e:
        fail("the spec is not JSON: %s" % e)
    if not isinstance(spec, dict):
        fail("the spec must be a JSON object")
    sys.stdout.write(base64.b64encode(build(spec)).decode("ascii"))


if __name__ == "__main__":
    main()
