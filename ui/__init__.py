"""The Streamlit dashboard's shared pieces: session state (state.py) and widgets (widgets.py).

Views only: every figure shown comes from one call into ``recengine`` or ``audits``.
"""
