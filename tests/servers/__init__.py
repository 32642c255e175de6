"""Test servers that bind loopback only (127.0.0.0/8) and run in background threads.

`hostile.HostileServer` misbehaves on purpose: trickling, hanging, resetting,
decompression bombs, broken charsets and redirect tricks.
"""
