# The manual shows "01/07/24, 13:33".
DATE_FORMAT = "d/m/Y"
SHORT_DATE_FORMAT = "d/m/y"
SHORT_DATETIME_FORMAT = "d/m/y, H:i"
TIME_FORMAT = "H:i"
DATE_INPUT_FORMATS = ["%Y-%m-%d", "%d/%m/%Y"]
