"""String-literal extraction and replacement on CoSyn-like plotting code and its data."""

import ast
import json

import pytest

from babelvl.pixmo.localize import (code_references, data_format, extract_data_strings,
                                    extract_strings, is_translatable, replace_data_strings,
                                    replace_strings)

# Shaped like CoSyn-400K chart rows: generate_plot(df) gets the CSV as a DataFrame, returns a PIL image.
CODE = r'''import numpy as np
import matplotlib.pyplot as plt
import pandas as pd
from io import BytesIO
from PIL import Image

def generate_plot(df):
    """Bar chart of coffee consumption."""
    plt.style.use('seaborn-v0_8-whitegrid')
    fig, ax = plt.subplots(figsize=(12, 7))
    colors = ['#8B4513', '#A0522D', 'sienna']
    roasts = ['Light roast', 'Dark roast']
    highlight = {'Finland': 'gold'}
    bars = ax.bar(df['Country'], df['Consumption'], color=colors[0], edgecolor='black',
                  linewidth=1.5, alpha=0.8, label='Coffee (kg per capita)')
    for bar in bars:
        height = bar.get_height()
        ax.text(bar.get_x() + bar.get_width() / 2., height, f'{height:.1f}',
                ha='center', va='bottom', fontsize=10, fontweight='bold')
    ax.set_title("World's Top Coffee Drinkers", fontsize=18, fontweight='bold', pad=20)
    ax.set_xlabel('Country', fontsize=14, labelpad=10)
    ax.set_ylabel(r'Consumption ($\mathrm{kg}$ per capita)', fontsize=14)
    ax.annotate('Highest consumption', xy=(0, 12), xytext=(1, 13),
                arrowprops=dict(facecolor='black', arrowstyle='->'), fontsize=12)
    ax.legend(loc='upper right', title='Beverage')
    ax.set_xticklabels(df['Country'], rotation=45, ha='right')
    fig.suptitle(f"Survey of {len(df)} countries", fontsize=10)
    ax.text(0.02, 0.95, 'Total: {:.0f} kg'.format(df['Consumption'].sum()), transform=ax.transAxes)
    ax.plot(df['Country'], df['Consumption'], 'o-', color='C1')
    if df['Country'].iloc[0] == 'Finland':
        ax.set_facecolor('#f5f5dc')
    plt.tight_layout()
    buf = BytesIO()
    plt.savefig(buf, format='png', dpi=300, bbox_inches='tight')
    buf.seek(0)
    return Image.open(buf)
'''
DATA = 'Country,Consumption,Color\nFinland,12.0,#1f77b4\nNorway,9.9,#ff7f0e\n"Iceland, Reykjavik",9.0,red\n'

VISIBLE = ["Light roast", "Dark roast", "Coffee (kg per capita)", "World's Top Coffee Drinkers",
           "Country", r"Consumption ($\mathrm{kg}$ per capita)", "Highest consumption", "Beverage",
           "Survey of {len(df)} countries", "Total: {:.0f} kg"]


def test_extracts_exactly_the_visible_strings_in_source_order():
    assert [s.value for s in extract_strings(CODE, data=DATA)] == VISIBLE


def test_literal_positions_cover_the_quoted_source():
    for literal in extract_strings(CODE):
        source = CODE[literal.start:literal.end]
        assert source[-1] in "'\"" and CODE.count("\n", 0, literal.start) + 1 == literal.line
        if literal.kind == "plain":
            assert ast.literal_eval(source) == literal.value


def test_contexts_and_kinds_say_why():
    by_value = {s.value: s for s in extract_strings(CODE)}
    assert by_value["World's Top Coffee Drinkers"].context == "set_title"
    assert by_value["Coffee (kg per capita)"].context == "label="
    assert by_value["Light roast"].context == "assign:roasts"
    assert by_value["Survey of {len(df)} countries"].kind == "fstring"
    assert by_value["Total: {:.0f} kg"].kind == "format"


@pytest.mark.parametrize("text", ["Sales", "Coffee (kg per capita)", "Café au lait", "日本の売上",
                                  "Q1 2024", "Revenue in $M", "Share of total (%)"])
def test_words_are_translatable(text):
    assert is_translatable(text)


@pytest.mark.parametrize("text", ["#ff0000", "#abc", "%.1f", "%1.1f%%", "{:.2f}%", "%Y-%m-%d", "o-",
                                  "r--", "k", "center", "bold", "upper left", "chart.png", "12.5",
                                  "C0", "tab:blue", "skyblue", "round,pad=0.3", "", "  ", "x",
                                  "https://example.org/a", "rgba(0, 0, 0, 0.5)", "$\\alpha$"])
def test_non_words_are_not(text):
    assert not is_translatable(text)


def test_style_keys_and_code_names_stay_out():
    code = ("import matplotlib.pyplot as plt\n"
            "plt.rcParams.update({'font.family': 'DejaVu Sans', 'axes.titlesize': 14})\n"
            "fontdict = {'fontsize': 12, 'fontweight': 'bold'}\n"
            "plt.title('Rainfall', fontdict={'family': 'serif', 'color': 'darkblue'})\n"
            "plt.plot([1, 2], [3, 4], 'ro--', label='Monthly rainfall')\n"
            "plt.imshow([[1]], cmap='viridis')\n"
            "plt.savefig('rainfall_chart.png')\n")
    assert [s.value for s in extract_strings(code)] == ["Rainfall", "Monthly rainfall"]


def test_strings_used_as_keys_are_not_taken_from_data_literals():
    code = ("import matplotlib.pyplot as plt\n"
            "import pandas as pd\n"
            "data = {'Category': ['Food', 'Rent', 'Travel'], 'Amount': [300, 1200, 150]}\n"
            "df = pd.DataFrame(data)\n"
            "explode = [0.1 if c == 'Rent' else 0 for c in df['Category']]\n"
            "plt.pie(df['Amount'], labels=df['Category'], explode=explode)\n"
            "plt.title('Monthly budget')\n")
    assert [s.value for s in extract_strings(code)] == ["Food", "Travel", "Monthly budget"]
    assert {"Category", "Amount", "Rent"} <= code_references(code)


def test_data_columns_are_keys_for_the_code():
    code = "import matplotlib.pyplot as plt\ncols = ['Year', 'Sales']\nseries = ['Year', 'Total']\n"
    data = "Year,Sales\n2020,10\n"
    assert [s.value for s in extract_strings(code, data=data)] == ["Total"]


def test_replace_changes_only_the_chosen_literals():
    translations = {
        "World's Top Coffee Drinkers": "Les plus grands buveurs de café",
        "Country": "Pays",
        r"Consumption ($\mathrm{kg}$ per capita)": r"Consommation ($\mathrm{kg}$ par habitant)",
        "Highest consumption": 'Consommation "maximale"',
        "Survey of {len(df)} countries": "Enquête sur {len(df)} pays",
        "Total: {:.0f} kg": "Total : {:.0f} kg",
        "Light roast": "Torréfaction claire",
        "Finland": "Finlande",  # only ever used as a key here: must stay
        "bold": "gras",
    }
    new = replace_strings(CODE, translations, data=DATA)
    assert ast.parse(new)
    assert "ax.set_title(\"Les plus grands buveurs de café\", fontsize=18" in new
    assert "ax.set_xlabel('Pays', fontsize=14" in new
    assert "df['Country']" in new and "== 'Finland'" in new and "fontweight='bold'" in new
    assert r"ax.set_ylabel(r'Consommation ($\mathrm{kg}$ par habitant)'" in new
    assert """ax.annotate('Consommation "maximale"'""" in new
    assert 'fig.suptitle(f"Enquête sur {len(df)} pays"' in new
    assert "'Total : {:.0f} kg'.format(" in new
    changed = [(a, b) for a, b in zip(CODE.splitlines(), new.splitlines()) if a != b]
    assert len(changed) == 7 and len(CODE.splitlines()) == len(new.splitlines())
    values = [s.value for s in extract_strings(new, data=DATA)]
    assert "Enquête sur {len(df)} pays" in values and "Pays" in values


@pytest.mark.parametrize("translation", ["l'été \"chaud\"", "back\\slash", "deux\nlignes", "tab\there",
                                         "emoji 📈 ok", "ends with backslash \\"])
@pytest.mark.parametrize("literal", ["'Summer'", '"Summer"', "r'Summer'", "'''Summer'''", 'u"Summer"'])
def test_escaping_round_trips(literal, translation):
    code = f"import matplotlib.pyplot as plt\nplt.title({literal})\n"
    new = replace_strings(code, {"Summer": translation})
    assert [s.value for s in extract_strings(new)] == [translation]


def test_quoting_style_is_kept():
    code = "import matplotlib.pyplot as plt\nplt.xlabel(\"Year\")\nplt.ylabel('Sales')\n"
    new = replace_strings(code, {"Year": "Année", "Sales": "Ventes"})
    assert new == "import matplotlib.pyplot as plt\nplt.xlabel(\"Année\")\nplt.ylabel('Ventes')\n"


def test_fstring_translation_must_keep_its_fields():
    code = "import matplotlib.pyplot as plt\nyear = 2024\nplt.title(f'Sales in {year}: {total:,.0f} units')\n"
    [literal] = extract_strings(code)
    assert literal.value == "Sales in {year}: {total:,.0f} units"
    moved = replace_strings(code, {literal.value: "{total:,.0f} unités vendues en {year}"})
    assert "plt.title(f'{total:,.0f} unités vendues en {year}')" in moved
    assert replace_strings(code, {literal.value: "Ventes en {annee}"}) == code
    assert replace_strings(code, {literal.value: "Ventes"}) == code


def test_fstring_with_quotes_in_fields_switches_quotes():
    code = "import matplotlib.pyplot as plt\nplt.title(f\"Top: {df['Name'].iloc[0]}\")\n"
    [literal] = extract_strings(code)
    new = replace_strings(code, {literal.value: "Premier : {df['Name'].iloc[0]}"})
    assert [s.value for s in extract_strings(new)] == ["Premier : {df['Name'].iloc[0]}"]


def test_placeholders_and_math_must_survive():
    code = ("import matplotlib.pyplot as plt\nplt.ylabel('%s per day' % unit)\n"
            "plt.xlabel(r'Decay of $\\alpha$ particles')\n")
    assert replace_strings(code, {"%s per day": "par jour"}) == code
    assert replace_strings(code, {"Decay of $\\alpha$ particles": "Désintégration alpha"}) == code
    assert "'%s par jour' % unit" in replace_strings(code, {"%s per day": "%s par jour"})


def test_implicit_concatenation_becomes_one_literal():
    code = "import matplotlib.pyplot as plt\nplt.title('Annual rainfall '\n          'in Lisbon')\n"
    [literal] = extract_strings(code)
    assert literal.value == "Annual rainfall in Lisbon"
    assert replace_strings(code, {literal.value: "Pluie annuelle à Lisbonne"}) == (
        "import matplotlib.pyplot as plt\nplt.title('Pluie annuelle à Lisbonne')\n")


def test_multibyte_text_before_a_literal_on_the_same_line():
    code = "import matplotlib.pyplot as plt\nplt.title('Été — 2024'); plt.xlabel('Month')\n"
    new = replace_strings(code, {"Month": "Mois", "Été — 2024": "Summer — 2024"})
    assert new == "import matplotlib.pyplot as plt\nplt.title('Summer — 2024'); plt.xlabel('Mois')\n"


def test_surrounding_whitespace_is_kept():
    code = "import matplotlib.pyplot as plt\nplt.text(0, 0, '  Peak season\\n')\n"
    new = replace_strings(code, {"Peak season": "Haute saison"})
    assert "plt.text(0, 0, '  Haute saison\\n')" in new


def test_code_that_does_not_parse_is_left_alone():
    assert extract_strings("plt.title('x'") == []
    assert replace_strings("plt.title('x'", {"x": "y"}) == "plt.title('x'"


# --- data -----------------------------------------------------------------------------------------

def test_csv_cells_but_not_header_keys_colors_or_numbers():
    assert data_format(DATA) == "csv"
    found = extract_data_strings(DATA, code=CODE)
    assert [(s.value, s.context) for s in found] == [("Norway", "csv:Country"),
                                                     ("Iceland, Reykjavik", "csv:Country")]
    assert next(s.value for s in extract_data_strings(DATA)) == "Finland"


def test_csv_replace_keeps_every_other_byte():
    data = "Region,Share (%),Note\r\nNorth America,35.5,\"Largest, by far\"\r\nAsia,20,NA\r\n"
    new = replace_data_strings(data, {"North America": "Amérique du Nord",
                                      "Largest, by far": 'Le "plus" grand',
                                      "Asia": "Asie, Est", "Region": "Région", "NA": "ND"})
    assert new == ("Region,Share (%),Note\r\nAmérique du Nord,35.5,\"Le \"\"plus\"\" grand\"\r\n"
                   "\"Asie, Est\",20,NA\r\n")


def test_json_values_are_translated_keys_and_styles_are_not():
    data = ('{"title": "Energy mix",\n'
            ' "nodes": [{"id": "solar", "label": "Solar power", "color": "#ffcc00"},\n'
            '  {"id": "wind", "label": "Wind \\u00e9nergie", "value": 12}],\n "unit": "TWh"}')
    assert data_format(data) == "json"
    found = extract_data_strings(data)
    assert [(s.value, s.context) for s in found] == [("Energy mix", "json:title"),
                                                     ("Solar power", "json:label"),
                                                     ("Wind énergie", "json:label"), ("TWh", "json:unit")]
    new = replace_data_strings(data, {"Energy mix": "Mix énergétique", "Solar power": "Solaire",
                                      "Wind énergie": "Éolien", "solar": "SOLAIRE", "title": "titre"})
    parsed = json.loads(new)
    assert parsed["title"] == "Mix énergétique" and parsed["nodes"][0]["id"] == "solar"
    assert parsed["nodes"][1]["label"] == "Éolien" and '"label": "\\u00c9olien"' in new
    assert new.splitlines()[1].startswith(' "nodes": [{"id": "solar", "label": "Solaire", "color"')


def test_not_data_is_left_alone():
    for text in ("", "just a sentence", "{not json", "Year\n2020\n"):
        assert data_format(text) is None
        assert extract_data_strings(text) == []
        assert replace_data_strings(text, {"just a sentence": "x"}) == text
