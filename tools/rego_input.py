"""Handing a JSON-like document to a rego-cpp interpreter as its input, fast and faithfully.

``set_input(rego, value)`` builds the input node by node through rego-cpp's C API, as
``regopy.Input`` does, but without regopy's per-node Python wrappers (they cost as much as
evaluating the default bundle) and with strings JSON-escaped as rego-cpp holds them internally.
"""

from __future__ import annotations

__all__ = ["set_input"]

import json
from typing import Any

_INT64 = (-(2**63), 2**63 - 1)
_c_api: dict[str, Any] = {}


def _input_api() -> dict[str, Any] | None:
    """rego-cpp's input-building C functions, from our own handle on regopy's library.

    Our own ``CDLL`` object, so setting ``argtypes`` here leaves regopy's untouched. Only
    pointer and 64-bit arguments are declared: ctypes passes bytes and small ints fastest
    without conversion hooks. ``None`` when regopy keeps its library elsewhere.
    """
    if not _c_api:
        import ctypes

        try:
            from regopy import rego_shared

            lib = ctypes.CDLL(rego_shared.rego._name)
        except (ImportError, AttributeError, OSError):  # pragma: no cover - another layout
            _c_api["missing"] = True
            return None
        void_p = ctypes.c_void_p
        lib.regoNewInput.restype = void_p
        lib.regoNewInput.argtypes = []
        lib.regoFreeInput.restype = None
        lib.regoFreeInput.argtypes = [void_p]
        lib.regoSetInput.argtypes = [void_p, void_p]
        lib.regoInputValidate.argtypes = [void_p]
        lib.regoInputInt.argtypes = [void_p, ctypes.c_int64]
        lib.regoInputFloat.argtypes = [void_p, ctypes.c_double]
        _c_api.update(
            lib=lib, void_p=void_p, str=lib.regoInputString, int=lib.regoInputInt,
            float=lib.regoInputFloat, bool=lib.regoInputBoolean, null=lib.regoInputNull,
            item=lib.regoInputObjectItem, object=lib.regoInputObject, array=lib.regoInputArray,
        )
    return None if "missing" in _c_api else _c_api


_encoded: dict[str, bytes] = {}


def _encode(text: str) -> bytes:
    """A string as rego-cpp holds strings internally: JSON-escaped, without the quotes.

    rego-cpp keeps a string's JSON text (that is how it parses JSON input and policy literals),
    so a raw string with a quote, backslash or control character would not equal the same text
    written in a policy and would corrupt the engine's JSON output. Cached: keys and ids repeat.
    """
    out = _encoded.get(text)
    if out is None:
        if len(_encoded) > 50_000:
            _encoded.clear()
        out = _encoded[text] = json.dumps(text, ensure_ascii=False)[1:-1].encode()
    return out


def set_input(rego: Any, value: Any) -> None:
    """Hand ``value`` (JSON-like) to the interpreter as its input document.

    Node by node through rego-cpp's C API, as ``regopy.Input`` does, with two differences:
    regopy's per-node Python wrappers took as long as evaluating the default bundle on a 30 KB
    input, and it passes strings raw (see ``_encode``). The result is what rego-cpp's own JSON
    parser builds from ``json.dumps(value)``, at a fifth of its cost.
    """
    api = _input_api()
    if api is None:  # pragma: no cover - another regopy layout
        rego.set_input_term(json.dumps(value, ensure_ascii=False))
        return
    lib = api["lib"]
    handle = api["void_p"](lib.regoNewInput())
    put_str, put_int, put_float = api["str"], api["int"], api["float"]
    put_bool, put_null = api["bool"], api["null"]
    put_item, put_object, put_array = api["item"], api["object"], api["array"]
    encode = _encode

    def add(v: Any) -> None:
        t = type(v)
        if t is str:
            put_str(handle, encode(v))
        elif t is dict:
            for key, item in v.items():
                if type(key) is not str:
                    raise ValueError(f"object key {key!r} is not a string")
                put_str(handle, encode(key))
                add(item)
                put_item(handle)
            put_object(handle, len(v))
        elif t is list or t is tuple:
            for item in v:
                add(item)
            put_array(handle, len(v))
        elif t is bool:
            put_bool(handle, 1 if v else 0)
        elif t is int:
            if _INT64[0] <= v <= _INT64[1]:
                put_int(handle, v)
            else:
                put_float(handle, float(v))
        elif t is float:
            put_float(handle, v)
        elif v is None:
            put_null(handle)
        else:
            raise ValueError(f"cannot pass a {t.__name__} to the policy engine")

    try:
        add(value)
        # Validate checks the node stack built above is one well-formed value.
        if lib.regoInputValidate(handle) or lib.regoSetInput(rego._impl, handle):
            raise ValueError("the policy engine refused the input document")
    finally:
        lib.regoFreeInput(handle)
