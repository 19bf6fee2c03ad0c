"""Names and places the city draws from: origins, countries, foreign naming traditions."""

from __future__ import annotations


COUNTRY_JA = {
    "CN": "中華人民共和国", "VN": "ベトナム", "PH": "フィリピン", "KR": "大韓民国", "XC": "大韓民国",
    "NP": "ネパール", "TR": "トルコ", "TW": "台湾", "MM": "ミャンマー", "ID": "インドネシア",
    "TH": "タイ", "BD": "バングラデシュ", "LK": "スリランカ", "MN": "モンゴル", "IN": "インド",
    "PK": "パキスタン", "US": "アメリカ合衆国", "BR": "ブラジル", "PE": "ペルー", "KH": "カンボジア",
    "UZ": "ウズベキスタン", "XX": "ミャンマー", "GB": "イギリス", "SG": "シンガポール",
    "AU": "オーストラリア", "DE": "ドイツ", "CA": "カナダ", "FR": "フランス",
}
JAPANESE_ABROAD = ("US", "CN", "TH", "SG", "GB", "AU", "DE", "CA", "KR", "VN", "FR")
# Where people move from and to (public municipality names; the street part is made up).
ORIGINS = (
    ("東京都", "北区", 8), ("東京都", "足立区", 8), ("東京都", "板橋区", 6), ("東京都", "練馬区", 4),
    ("東京都", "豊島区", 3), ("東京都", "江戸川区", 3), ("東京都", "葛飾区", 3), ("東京都", "荒川区", 3),
    ("東京都", "新宿区", 2), ("東京都", "世田谷区", 2), ("東京都", "江東区", 2), ("東京都", "八王子市", 1),
    ("埼玉県", "さいたま市南区", 5), ("埼玉県", "さいたま市浦和区", 3), ("埼玉県", "さいたま市緑区", 3),
    ("埼玉県", "戸田市", 5), ("埼玉県", "蕨市", 5), ("埼玉県", "草加市", 4), ("埼玉県", "越谷市", 3),
    ("埼玉県", "川越市", 2), ("埼玉県", "所沢市", 2), ("埼玉県", "春日部市", 1), ("埼玉県", "八潮市", 1),
    ("千葉県", "松戸市", 2), ("千葉県", "市川市", 2), ("千葉県", "船橋市", 2), ("千葉県", "柏市", 1),
    ("神奈川県", "横浜市港北区", 2), ("神奈川県", "川崎市中原区", 2), ("神奈川県", "相模原市中央区", 1),
    ("大阪府", "大阪市北区", 1), ("愛知県", "名古屋市中区", 1), ("北海道", "札幌市中央区", 1),
    ("福岡県", "福岡市博多区", 1), ("宮城県", "仙台市青葉区", 1), ("群馬県", "高崎市", 1),
    ("栃木県", "宇都宮市", 1), ("茨城県", "水戸市", 1), ("新潟県", "新潟市中央区", 1),
    ("静岡県", "静岡市葵区", 1), ("広島県", "広島市中区", 1), ("長野県", "長野市", 1),
)
# 通称 family names often registered by 特別永住者 (common Japanese surnames).
ALIAS_FAMILIES = ("金田", "金山", "新井", "松本", "木村", "安田", "西原", "金本", "平山", "高山",
                  "岩本", "国本", "宮本", "山本", "林", "清水")

# Latin names with their katakana readings, by naming tradition.
_CN_FAMILY = (
    "WANG:ワン LI:リー ZHANG:チャン LIU:リウ CHEN:チェン YANG:ヤン ZHAO:チャオ HUANG:ホアン "
    "ZHOU:チョウ WU:ウー XU:シュー SUN:スン HU:フー ZHU:チュー GAO:ガオ LIN:リン HE:ホー GUO:グオ "
    "MA:マー LUO:ルオ LIANG:リャン SONG:ソン ZHENG:ジェン XIE:シエ HAN:ハン TANG:タン "
    "FENG:フォン YU:ユー DONG:ドン XIAO:シャオ"
)
_CN_SYLLABLE = (
    "WEI:ウェイ FANG:ファン NA:ナー MIN:ミン JING:ジン LI:リー QIANG:チアン LEI:レイ JUN:ジュン "
    "YANG:ヤン YONG:ヨン YAN:イエン JIE:ジエ TAO:タオ MING:ミン CHAO:チャオ XIU:シウ XIA:シア "
    "HUI:ホイ PING:ピン GANG:ガン HUA:ホア LING:リン HONG:ホン YU:ユー HAO:ハオ XIN:シン "
    "YI:イー BO:ボー TING:ティン XIAO:シャオ JIAN:ジエン LAN:ラン MEI:メイ ZHEN:ジェン PENG:ポン "
    "KAI:カイ RUI:ルイ QIAN:チエン WEN:ウェン"
)
_VN_FAMILY = (
    "NGUYEN:グエン NGUYEN:グエン NGUYEN:グエン TRAN:チャン LE:レー PHAM:ファム HOANG:ホアン "
    "HUYNH:フイン PHAN:ファン VU:ヴー VO:ヴォー DANG:ダン BUI:ブイ DO:ドー HO:ホー NGO:ゴー "
    "DUONG:ズオン LY:リー"
)
_VN_MIDDLE_M = "VAN:ヴァン VAN:ヴァン DUC:ドゥック MINH:ミン QUOC:クオック"
_VN_MIDDLE_F = "THI:ティ THI:ティ NGOC:ゴック THU:トゥー"
_VN_GIVEN_M = (
    "ANH:アイン HUNG:フン NAM:ナム TUAN:トゥアン DUNG:ズン HIEU:ヒエウ LONG:ロン QUANG:クアン "
    "THANH:タイン KHOA:コア PHUC:フック DAT:ダット"
)
_VN_GIVEN_F = (
    "LINH:リン HUONG:フオン THAO:タオ TRANG:チャン LAN:ラン HA:ハー MAI:マイ NGA:ガー "
    "HANH:ハイン THUY:トゥイ YEN:イエン VY:ヴィー"
)
_PH_FAMILY = (
    "SANTOS:サントス REYES:レイエス CRUZ:クルス BAUTISTA:バウティスタ GARCIA:ガルシア "
    "MENDOZA:メンドーサ RAMOS:ラモス AQUINO:アキノ CASTILLO:カスティーヨ FLORES:フローレス "
    "TORRES:トーレス VILLANUEVA:ビリャヌエバ GONZALES:ゴンザレス DELA_CRUZ:デラ　クルス "
    "NAVARRO:ナバロ FERNANDEZ:フェルナンデス"
)
_PH_GIVEN_M = (
    "JOSE:ホセ MARK:マーク JOHN:ジョン MICHAEL:マイケル JOSEPH:ジョセフ CHRISTIAN:クリスチャン "
    "RICARDO:リカルド JOMAR:ジョマール RENATO:レナート ARNEL:アーネル"
)
_PH_GIVEN_F = (
    "MARIA:マリア ANA:アナ ROSE:ローズ GRACE:グレース JENNIFER:ジェニファー ANGELICA:アンジェリカ "
    "JOY:ジョイ MARICEL:マリセル CHERRY:チェリー LORNA:ローナ MARY:メアリー JOCELYN:ジョセリン"
)
_KR_FAMILY = (
    "KIM:キム KIM:キム LEE:イ PARK:パク CHOI:チェ JUNG:チョン KANG:カン CHO:チョ YOON:ユン "
    "JANG:チャン LIM:イム HAN:ハン SHIN:シン OH:オ SEO:ソ KWON:クォン HWANG:ファン SONG:ソン "
    "AHN:アン YOO:ユ HONG:ホン"
)
_KR_GIVEN_M = (
    "MINJUN:ミンジュン JIHOON:ジフン HYUNWOO:ヒョヌ YOUNGHO:ヨンホ SUNGMIN:ソンミン "
    "JAEHYUN:ジェヒョン YOUNGSOO:ヨンス DONGHYUN:ドンヒョン SANGWOO:サンウ JINHO:ジノ "
    "CHULSOO:チョルス"
)
_KR_GIVEN_F = (
    "SEOYEON:ソヨン JIWOO:ジウ SOOJIN:スジン MINJI:ミンジ EUNJI:ウンジ HYEJIN:ヘジン "
    "MIKYUNG:ミギョン YOUNGHEE:ヨンヒ JIYOUNG:ジヨン SUNHEE:ソニ OKJA:オクチャ"
)
_NP_FAMILY = (
    "SHRESTHA:シュレスタ GURUNG:グルン TAMANG:タマン RAI:ライ MAGAR:マガル THAPA:タパ "
    "ADHIKARI:アディカリ SHARMA:シャルマ POKHREL:ポカレル BHANDARI:バンダリ KARKI:カルキ "
    "LAMA:ラマ PAUDEL:パウデル BASNET:バスネット"
)
_NP_GIVEN_M = (
    "RAM:ラム KRISHNA:クリシュナ BIKASH:ビカス ANIL:アニル PRAKASH:プラカス SANJAY:サンジャイ "
    "RAJESH:ラジェシュ SURESH:スレシュ DIPAK:ディパク SANTOSH:サントス"
)
_NP_GIVEN_F = (
    "SITA:シタ SUNITA:スニタ GITA:ギタ MANISHA:マニシャ SABITA:サビタ ANITA:アニタ "
    "RAMITA:ラミタ PUJA:プジャ SARITA:サリタ"
)
_TR_FAMILY = (
    "YILMAZ:ユルマズ KAYA:カヤ DEMIR:デミル CELIK:チェリク SAHIN:シャヒン YILDIZ:ユルドゥズ "
    "AYDIN:アイドゥン OZTURK:オズトゥルク ARSLAN:アルスラン DOGAN:ドアン KILIC:クルチ ASLAN:アスラン "
    "CETIN:チェティン KARA:カラ KOC:コチ KURT:クルト OZDEMIR:オズデミル"
)
_TR_GIVEN_M = (
    "MEHMET:メフメト AHMET:アフメト MUSTAFA:ムスタファ ALI:アリ HASAN:ハサン HUSEYIN:フセイン "
    "IBRAHIM:イブラヒム MURAT:ムラト RAMAZAN:ラマザン YUSUF:ユスフ OMER:オメル EMRE:エムレ"
)
_TR_GIVEN_F = (
    "FATMA:ファトマ AYSE:アイシェ EMINE:エミネ HATICE:ハティジェ ZEYNEP:ゼイネプ ELIF:エリフ "
    "MERYEM:メルイェム SULTAN:スルタン HAVVA:ハヴァ LEYLA:レイラ"
)
_SEA_FAMILY = (
    "SUKSAWAT:スクサワット WONGSA:ウォンサ SETIAWAN:セティアワン SANTOSO:サントソ AUNG:アウン "
    "HTUN:トゥン KYAW:チョー SOK:ソック CHAN:チャン SAPUTRA:サプトラ"
)
_SEA_GIVEN_M = "SOMCHAI:ソムチャイ BUDI:ブディ MIN:ミン ZAW:ゾー AGUS:アグス RITHY:リティ ANAN:アナン"
_SEA_GIVEN_F = "NATTAYA:ナッタヤ SITI:シティ DEWI:デウィ THIDA:ティダ SREY:スレイ AYE:エー PUTRI:プトゥリ"
_SA_FAMILY = (
    "HOSSAIN:ホサイン RAHMAN:ラーマン PERERA:ペレラ FERNANDO:フェルナンド SINGH:シン "
    "KUMAR:クマール KHAN:カーン AHMED:アーメド SILVA:シルバ ISLAM:イスラム"
)
_SA_GIVEN_M = "MOHAMMAD:モハマド ABDUL:アブドゥル NUWAN:ヌワン RAHUL:ラフル KAMAL:カマル ASIF:アシフ IMRAN:イムラン"
_SA_GIVEN_F = "PRIYA:プリヤ FATIMA:ファティマ AISHA:アイシャ NADIA:ナディア DILANI:ディラニ SHAHANA:シャハナ"
_CA_FAMILY = "BATBAYAR:バトバヤル GANBOLD:ガンボルド ERDENE:エルデネ KARIMOV:カリモフ RASHIDOV:ラシドフ TUMUR:トゥムル"
_CA_GIVEN_M = "BOLD:ボルド ANVAR:アンヴァル TEMUULEN:テムーレン JASUR:ジャスル BAT:バト"
_CA_GIVEN_F = "SARANGEREL:サランゲレル NILUFAR:ニルファル ANU:アヌ ZARINA:ザリナ ODGEREL:オドゲレル"
_WE_FAMILY = (
    "SMITH:スミス JOHNSON:ジョンソン BROWN:ブラウン SILVA:シルバ SOUZA:ソウザ RODRIGUEZ:ロドリゲス "
    "GARCIA:ガルシア TANAKA:タナカ HIGA:ヒガ MILLER:ミラー OLIVEIRA:オリベイラ QUISPE:キスペ"
)
_WE_GIVEN_M = "JAMES:ジェームズ MICHAEL:マイケル DAVID:デイビッド CARLOS:カルロス LUCAS:ルーカス JUAN:フアン DANIEL:ダニエル"
_WE_GIVEN_F = "EMILY:エミリー SARAH:サラ ANA:アナ JULIANA:ジュリアナ MARIA:マリア JESSICA:ジェシカ CAMILA:カミラ"


def _pairs(text: str) -> tuple[tuple[str, str], ...]:
    """Parse `LATIN:カナ` words (an underscore is a space in the Latin name)."""
    return tuple((w.split(":")[0].replace("_", " "), w.split(":")[1]) for w in text.split(" "))


NAME_TRADITIONS = {
    "CN": (_pairs(_CN_FAMILY), _pairs(_CN_SYLLABLE), _pairs(_CN_SYLLABLE)),
    "VN": (_pairs(_VN_FAMILY), _pairs(_VN_GIVEN_M), _pairs(_VN_GIVEN_F)),
    "PH": (_pairs(_PH_FAMILY), _pairs(_PH_GIVEN_M), _pairs(_PH_GIVEN_F)),
    "KR": (_pairs(_KR_FAMILY), _pairs(_KR_GIVEN_M), _pairs(_KR_GIVEN_F)),
    "NP": (_pairs(_NP_FAMILY), _pairs(_NP_GIVEN_M), _pairs(_NP_GIVEN_F)),
    "TR": (_pairs(_TR_FAMILY), _pairs(_TR_GIVEN_M), _pairs(_TR_GIVEN_F)),
    "SEA": (_pairs(_SEA_FAMILY), _pairs(_SEA_GIVEN_M), _pairs(_SEA_GIVEN_F)),
    "SA": (_pairs(_SA_FAMILY), _pairs(_SA_GIVEN_M), _pairs(_SA_GIVEN_F)),
    "CA": (_pairs(_CA_FAMILY), _pairs(_CA_GIVEN_M), _pairs(_CA_GIVEN_F)),
    "WE": (_pairs(_WE_FAMILY), _pairs(_WE_GIVEN_M), _pairs(_WE_GIVEN_F)),
}
TRADITION_OF = {"CN": "CN", "TW": "CN", "VN": "VN", "PH": "PH", "KR": "KR", "XC": "KR", "NP": "NP",
                "TR": "TR", "XX": "TR", "MM": "SEA", "ID": "SEA", "TH": "SEA", "KH": "SEA",
                "BD": "SA", "LK": "SA", "IN": "SA", "PK": "SA", "MN": "CA", "UZ": "CA"}
VN_MIDDLE = (_pairs(_VN_MIDDLE_M), _pairs(_VN_MIDDLE_F))
