"""leefbaar.evaluation"""
