"""Streamlit entry: sign-in and page navigation only; every page lives in safetymap/ui and calls the core.

``streamlit run app.py`` finds ``app = st.App(...)`` below and serves this same file as the page script,
with routes beside it (``safetymap.ui.web``): the HttpOnly session cookie after sign-in, the map's data (built in
the background when the server starts: ``lifespan``). While a page runs, Streamlit makes this file the process's
``__main__``, so a file reader's child process from the fork server is handed it to run first as ``__mp_main__``
(what multiprocessing does for every child it does not fork): it then does nothing."""
if __name__ == "__mp_main__":  # a file reader's child process (safetymap.io.sandbox): nothing of the app
    pass
elif __name__ != "__main__":  # imported by `streamlit run` / uvicorn as the ASGI app, not run as the page
    from safetymap.memory import limit_arenas, map_large_blocks

    limit_arenas()  # before the server's threads: two glibc heaps, not one per session thread (README)
    map_large_blocks()  # large arrays given back when freed, not kept in the heap
    import streamlit as st
    from safetymap.ui.web import ROUTES, lifespan

    app = st.App(__file__, routes=ROUTES, lifespan=lifespan)
else:
    from safetymap.ui.main import main

    main()
