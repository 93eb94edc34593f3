"""Ctrl-C landing while log() registers a row's new signature (store/signatures.py
`SignatureTable.register`): between the packer's append and the entry's, the two lists
fall out of step, and every later new signature is packed with the previous one's packer.
log() then raised struct.error for every row of a shape whose value count differs from the
one before it: the training loop crashed, and rows logged after the interrupt were dropped.
"""

from __future__ import annotations

import flightlog

from .conftest import python_script

#: a KeyboardInterrupt raised once, where a signal handler would raise it: inside the
#: check of a new signature's ints, after its packer was appended, before its entry was
SCRIPT = """
    import flightlog
    from flightlog.store import signatures
    real = signatures._exact_ints
    cut = []
    def exact_ints(keys):
        if not cut and "k1" in keys:
            cut.append(1)
            raise KeyboardInterrupt  # what a signal handler raises at that bytecode
        return real(keys)
    signatures._exact_ints = exact_ints
    run = flightlog.init(project="sig", id="sigs", settings={"console": "off"})
    returned, errors = [], []
    for i in range(40):
        row = {"i": i, f"k{i}": i} if i % 2 else {"i": i, f"k{i}": i, "extra": 1}
        try:
            run.log(row)
            returned.append(i)
        except KeyboardInterrupt:
            pass
        except Exception as e:
            errors.append(repr(e))
    run.finish()
    print(",".join(map(str, returned)))
    print(len(errors), errors[:1])
"""


def test_an_interrupt_while_log_registers_a_signature_never_breaks_later_rows(
    api: flightlog.Api,
) -> None:
    done = python_script(SCRIPT)
    assert done.returncode == 0, done.stderr
    returned_line, errors_line = done.stdout.strip().split("\n")
    assert errors_line.startswith("0 "), f"log() raised: {errors_line}"
    returned = [int(x) for x in returned_line.split(",")]
    assert returned == [i for i in range(40) if i != 1]
    rows = list(api.run("sig/sigs").scan_history())
    assert [r["i"] for r in rows] == returned
    assert all(r[f"k{r['i']}"] == r["i"] for r in rows)
