"""leefbaar.web"""
