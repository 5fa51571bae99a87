"""Files in and out: one module per format. Files are read and written with pyogrio (GDAL); the
live database never is (see ``safetymap.backends.geopackage``)."""
