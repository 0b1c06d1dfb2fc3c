DATE_FORMAT = "d.m.Y"
SHORT_DATE_FORMAT = "d.m.y"
SHORT_DATETIME_FORMAT = "d.m.y, H:i"
TIME_FORMAT = "H:i"
DATE_INPUT_FORMATS = ["%Y-%m-%d", "%d.%m.%Y"]
# The heading of a day of the list: "Sonntag, 29. November 2026".
DAY_HEADING_FORMAT = "l, j. F Y"
FIRST_DAY_HEADING_FORMAT = DAY_HEADING_FORMAT
