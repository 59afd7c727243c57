"""The meta-tools, transport-free: the Gateway (what list_skills, load_skill and call_skill do), their
argument and result models, the startup context. Imports every layer below.
"""
