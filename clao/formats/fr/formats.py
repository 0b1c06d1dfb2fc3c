# The manual shows "01/07/24, 13:33".
DATE_FORMAT = "d/m/Y"
SHORT_DATE_FORMAT = "d/m/y"
SHORT_DATETIME_FORMAT = "d/m/y, H:i"
TIME_FORMAT = "H:i"
DATE_INPUT_FORMATS = ["%Y-%m-%d", "%d/%m/%Y"]
# The heading of a day of the list: "Dimanche 29 novembre 2026", and "1er" for the first.
DAY_HEADING_FORMAT = "l j F Y"
FIRST_DAY_HEADING_FORMAT = r"l j\e\r F Y"
