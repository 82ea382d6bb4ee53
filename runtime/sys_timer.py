"""(being written; see issue 10)"""
