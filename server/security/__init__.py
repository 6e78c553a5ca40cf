"""Who may reach the agents, and what hostile peers and tool processes cannot do.

- ``auth``: bearer keys from their sources, unauthenticated local access;
- ``throttle``: failed authentications per address;
- ``host_guard``: DNS rebinding, CORS and cross-site requests (ASGI middleware), and the
  one loopback test;
- ``connection_guard``: header size, slow and idle connections, the connection cap;
- ``process_hardening``: the server's own process, out of reach of its tools' children.
"""
