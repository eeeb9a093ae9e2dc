"""The pieces of a results folder: the study view, importance, data files, Markdown and HTML.
``services.reporter.build`` puts them together."""
