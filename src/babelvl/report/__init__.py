"""Reports: tables, plots and HTML built from results files."""
