"""Live connections: who is listening to what, and getting events to them.

Threading: everything here runs on the IOLoop thread. Work that ever runs
elsewhere (a thread pool for database calls, say) must hand its results
back with `IOLoop.add_callback`, never by calling into this package.
"""
