"""Parses one RFC 5322 message from stdin with Python's email package and
prints what the e-mail specs check, as JSON: decoded headers, the MIME tree
(content types, decoded text, attachment names and their bytes in hex), and
the mailboxes of From, To and Cc as {"name", "addr"} pairs."""
import email
import email.policy
import json
import sys

msg = email.message_from_bytes(sys.stdin.buffer.read(), policy=email.policy.default)


def walk(part):
    node = {"type": part.get_content_type()}
    if part.is_multipart():
        node["parts"] = [walk(p) for p in part.iter_parts()]
    elif part.get_filename():
        node["filename"] = part.get_filename()
        node["content_hex"] = part.get_payload(decode=True).hex()
    else:
        node["text"] = part.get_content()
    return node


out = {k.lower(): str(v) for k, v in msg.items()}
out["defects"] = [type(d).__name__ for d in msg.defects]
out["mailboxes"] = {
    k: [{"name": a.display_name, "addr": a.addr_spec} for a in msg[k].addresses]
    for k in ("from", "to", "cc") if msg[k] is not None
}
out["tree"] = walk(msg)
print(json.dumps(out))
